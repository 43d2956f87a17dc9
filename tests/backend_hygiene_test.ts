/**
 * initBackend leaves the user's runtime as it found it, really runs threads,
 * and ends in the state the last call asked for. Each case runs in a fresh
 * process, as a notebook kernel would.
 */
import { assert, assertEquals } from "./assert.ts";

async function probe(sequence: Record<string, unknown>[], env: Record<string, string> = {}) {
  const command = new Deno.Command(Deno.execPath(), {
    env,
    args: [
      "run",
      "-A",
      new URL("./_backend_probe.ts", import.meta.url).pathname,
      JSON.stringify(sequence),
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  const text = new TextDecoder().decode(stdout).trim().split("\n").at(-1)!;
  assert(code === 0, `probe failed: ${new TextDecoder().decode(stderr).slice(-2000)}`);
  return JSON.parse(text);
}

Deno.test("initBackend restores every global it touches; a user's module worker runs afterwards", async () => {
  const result = await probe([{}]);
  console.log(
    `  ${JSON.stringify(result.info)}; globals changed: ${result.changed.join(", ") || "none"}`,
  );
  assertEquals(result.changed, []);
  assert(result.workerIsOriginal, "globalThis.Worker is not the original");
  assert(result.cpusIsOriginal, "os.cpus is not the original");
  assert(result.nodeWorkerIsOriginal, "worker_threads.Worker is not the original");
  assertEquals(result.reply, "echo ping");
  assertEquals(result.conv, 9 * 32);
});

Deno.test("threads really start wherever the machine has more than one core", async () => {
  const result = await probe([{}]);
  console.log(`  ${result.cores} cores: ${JSON.stringify(result.info)}`);
  if (result.cores > 1) {
    assert(
      result.info.threads > 1,
      `fell back to ${result.info.threads} thread(s): ${result.info.note}`,
    );
    assertEquals(result.info.note, undefined);
  }
});

Deno.test("initBackend options compose: each call ends in the kernels it asked for", async () => {
  const result = await probe([
    { fastInputGradient: false },
    {},
    { fastInputGradient: false },
    { winograd: false },
  ]);
  assertEquals(
    result.states.map((s: { fastMaxPoolGrad: boolean }) => s.fastMaxPoolGrad),
    [false, true, false, true],
  );
  assertEquals(result.conv, 9 * 32);
});

Deno.test("when threads cannot start, initBackend falls back to one SIMD thread and says why", async () => {
  const result = await probe([{}], { CONVSCOPE_PROBE_FAIL_THREADS: "1" });
  console.log(`  forced failure: ${JSON.stringify(result.info)}`);
  assertEquals(result.info.backend, "wasm");
  assertEquals(result.info.threads, 1);
  assert(result.info.note?.includes("threads could not start"), result.info.note);
  assertEquals(result.conv, 9 * 32);
  assertEquals(result.reply, "echo ping");
});
