/**
 * `deno task bench`: every workload on `cpu`, `wasm` with 1 thread, `wasm`
 * with all threads (and, for the convolution-heavy rows, `wasm` with the
 * direct XNNPACK convolution instead of Winograd's, and with the stock wasm
 * input gradient for the ascent steps),
 * plus PyTorch on the same machine when Debian's python3-torch is present,
 * printed side by side from one run. Each configuration runs in its own
 * process, one after the other, so they never compete for the cores.
 *
 * Flags: --quick (fewer repetitions), --skip-cpu, --skip-torch, --only "a|b"
 * (only the workloads whose names contain one of the parts).
 *
 * @module
 */
import os from "node:os";
import type { Result } from "./workloads.ts";

interface Run {
  label: string;
  results: Result[];
}

const quick = Deno.args.includes("--quick");
const onlyAt = Deno.args.indexOf("--only");
const only = onlyAt >= 0 ? Deno.args[onlyAt + 1] : undefined;
const threads = os.cpus().length;
const here = new URL(".", import.meta.url).pathname;

async function run(label: string, command: string, args: string[]): Promise<Run> {
  console.error(`== ${label}`);
  const out = await new Deno.Command(command, {
    args: [...args, ...(quick ? ["--quick"] : []), ...(only ? ["--only", only] : [])],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success) throw new Error(`${label} failed (exit ${out.code})`);
  return { label, results: JSON.parse(text).results };
}

const deno = Deno.execPath();
const workloads = `${here}workloads.ts`;
const runs: Run[] = [];
const workloadRun = (label: string, ...args: string[]) =>
  run(label, deno, ["run", "-A", workloads, ...args]);
runs.push(
  await workloadRun(`wasm ${threads} threads`, "--backend", "wasm", "--threads", String(threads)),
);
runs.push(await workloadRun("wasm 1 thread", "--backend", "wasm", "--threads", "1"));
runs.push(
  await workloadRun(
    `wasm ${threads} thr., direct conv`,
    "--backend",
    "wasm",
    "--threads",
    String(threads),
    "--no-winograd",
    ...(only ? [] : ["--only", "conv2d forward|activations|batch 1|Grad-CAM|train step"]),
  ),
);
runs.push(
  await workloadRun(
    `wasm ${threads} thr., stock ∂input`,
    "--backend",
    "wasm",
    "--threads",
    String(threads),
    "--stock-input-gradient",
    // A user's --only (appended by run) takes over from this default.
    ...(only ? [] : ["--only", "ascent step VGG16|Grad-CAM|MNIST"]),
  ),
);
if (!Deno.args.includes("--skip-cpu")) {
  runs.push(await workloadRun("cpu (JS)", "--backend", "cpu"));
}
let torch: Run | undefined;
if (!Deno.args.includes("--skip-torch")) {
  const probe = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", "import torch"],
    stderr: "null",
  })
    .output().catch(() => undefined);
  if (probe?.success) {
    torch = await run(`PyTorch ${threads} threads`, "/usr/bin/python3", [
      `${here}torch_reference.py`,
      String(threads),
    ]);
    runs.push(torch);
  } else {
    console.error(
      "(python3-torch not installed: no PyTorch column; apt-get install python3-torch to add it)",
    );
  }
}

const names = [...new Set(runs.flatMap((r) => r.results.map((x) => x.name)))];
const cell = (r: Result | undefined) => {
  if (!r) return "—";
  if (!Number.isFinite(r.ms)) return "skipped";
  let s = r.ms >= 100 ? r.ms.toFixed(0) : r.ms.toFixed(1);
  s += " ms";
  if (r.gflops) s += ` ${r.gflops.toFixed(1)} GF/s`;
  if (r.perSecond && r.unit) s += ` ${r.perSecond.toFixed(1)} ${r.unit.replace("/s", "")}/s`;
  return s;
};
const header = [
  "workload",
  ...runs.map((r) => r.label),
  ...(torch ? [`${runs[0].label} ÷ PyTorch`] : []),
];
const rows = names.map((name) => {
  const cells = runs.map((r) => cell(r.results.find((x) => x.name === name)));
  if (torch) {
    const ours = runs[0].results.find((x) => x.name === name);
    const ref = torch.results.find((x) => x.name === name);
    cells.push(ours && ref && Number.isFinite(ours.ms) ? `${(ours.ms / ref.ms).toFixed(2)}×` : "—");
  }
  return [name, ...cells];
});
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cols: string[]) => "| " + cols.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
console.log(line(header));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of rows) console.log(line(r));
console.log(
  "\nms: median wall time. GF/s: convolution FLOPs (multiply-adds × 2) per second; ascent steps count forward + input gradient, training forward + both gradients (×3). With Winograd's F(2×2, 3×3) (every wasm column but \"direct conv\") the same count is divided by the time, so GF/s is the direct-convolution equivalent: the kernel's own efficiency against the SIMD ceiling is the direct column's.",
);
