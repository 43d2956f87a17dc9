/**
 * `deno task bench`: every workload on `cpu`, `wasm` with 1 thread, `wasm`
 * with all threads (and, for the convolution-heavy rows, `wasm` with the
 * direct XNNPACK convolution instead of Winograd's, and with the stock wasm
 * input gradient for the ascent steps),
 * on `webgpu` when Deno finds an adapter (a GPU, or here Mesa's software
 * Vulkan driver),
 * plus PyTorch on the same machine when Debian's python3-torch is present,
 * and onnxruntime-web's WASM backend for the activation rows when it is set up
 * (bench/ort_reference.mjs says how),
 * printed side by side from one run. Each configuration runs in its own
 * process, one after the other, so they never compete for the cores.
 *
 * Every process runs with TCMalloc preloaded when Debian's libtcmalloc-minimal4
 * is installed (PyTorch's CPU performance guide recommends it: glibc's
 * malloc hands large blocks back to the system and PyTorch, allocating fresh
 * tensors for every op, pays page faults on them again: here 1.7× its time
 * for a training step, 2× for a 64-filter ascent); --system-malloc keeps
 * glibc's.
 *
 * Flags: --quick (fewer repetitions), --skip-cpu, --skip-torch, --skip-webgpu, --only "a|b"
 * (only the workloads whose names contain one of the parts), --rounds N
 * (after the first pass, runs the all-threads wasm and PyTorch processes
 * N - 1 more times, alternating, and reports medians over the rounds: this VM's
 * speed drifts by up to 2× within minutes, so a ratio taken from one process
 * each can land in different states of the machine).
 *
 * @module
 */
import os from "node:os";
import type { Result } from "./workloads.ts";
import { median } from "./stats.ts";
import { requestGpuAdapter } from "../src/backend/webgpu.ts";

interface Run {
  label: string;
  results: Result[];
}

const quick = Deno.args.includes("--quick");
const roundsAt = Deno.args.indexOf("--rounds");
const rounds = roundsAt >= 0 ? Math.max(1, Number(Deno.args[roundsAt + 1]) || 1) : 1;
const onlyAt = Deno.args.indexOf("--only");
const only = onlyAt >= 0 ? Deno.args[onlyAt + 1] : undefined;
const threads = os.cpus().length;
const here = new URL(".", import.meta.url).pathname;
const tcmalloc = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4";
const preload = !Deno.args.includes("--system-malloc") &&
    await Deno.stat(tcmalloc).then(() => true, () => false)
  ? tcmalloc
  : undefined;

async function run(label: string, command: string, args: string[]): Promise<Run> {
  console.error(`== ${label}`);
  const out = await new Deno.Command(command, {
    args: [...args, ...(quick ? ["--quick"] : []), ...(only ? ["--only", only] : [])],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1", ...(preload ? { LD_PRELOAD: preload } : {}) },
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success) throw new Error(`${label} failed (exit ${out.code})`);
  return { label, results: JSON.parse(text).results };
}

// The machine, for the raw output (ratios move with the CPU: AVX-512 or not,
// how it computes subnormal floats).
const cpuInfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
const flags = cpuInfo.match(/^flags\s*:(.*)$/m)?.[1] ?? "";
console.error(
  `machine: ${os.cpus()[0]?.model ?? "unknown CPU"}, ${threads} logical cores; ` +
    `SIMD flags: ${flags.split(" ").filter((f) => /^(avx|fma|sse4)/.test(f)).join(" ") || "?"}`,
);
console.error(
  preload
    ? `allocator: TCMalloc (${preload}) in every process`
    : `allocator: glibc's malloc${
      Deno.args.includes("--system-malloc")
        ? ""
        : " (apt-get install libtcmalloc-minimal4 for TCMalloc)"
    }`,
);
const deno = Deno.execPath();
const workloads = `${here}workloads.ts`;
const runs: Run[] = [];
const workloadRun = (label: string, ...args: string[]) =>
  run(label, deno, ["run", "-A", workloads, ...args]);
const allThreads = ["--backend", "wasm", "--threads", String(threads)];
const torchArgs = [`${here}torch_reference.py`, String(threads)];
runs.push(await workloadRun(`wasm ${threads} threads`, ...allThreads));
runs.push(await workloadRun("wasm 1 thread", "--backend", "wasm", "--threads", "1"));
runs.push(
  await workloadRun(
    `wasm ${threads} thr., direct conv`,
    ...allThreads,
    "--no-winograd",
    ...(only ? [] : ["--only", "conv2d forward|activations|batch 1|Grad-CAM|train step"]),
  ),
);
runs.push(
  await workloadRun(
    `wasm ${threads} thr., stock ∂input`,
    ...allThreads,
    "--stock-input-gradient",
    // A user's --only (appended by run) takes over from this default.
    ...(only ? [] : ["--only", "ascent step VGG16|Grad-CAM|MNIST"]),
  ),
);
if (!Deno.args.includes("--skip-cpu")) {
  runs.push(await workloadRun("cpu (JS)", "--backend", "cpu"));
}
// WebGPU, on whatever adapter Deno finds: here Mesa's software Vulkan driver
// (lavapipe, 2 CPU cores), which is slower than WASM; on a machine with a GPU
// the same command measures the GPU.
if (!Deno.args.includes("--skip-webgpu")) {
  const adapter = await requestGpuAdapter();
  if (adapter.info) {
    const kind = adapter.info.software ? "software" : "GPU";
    runs.push(
      await workloadRun(`webgpu (${kind}: ${adapter.info.description})`, "--backend", "webgpu"),
    );
  } else {
    console.error(`(no webgpu column: ${adapter.reason})`);
  }
}
let torch: Run | undefined;
if (!Deno.args.includes("--skip-torch")) {
  const probe = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", "import torch"],
    stderr: "null",
  })
    .output().catch(() => undefined);
  if (probe?.success) {
    torch = await run(`PyTorch ${threads} threads`, "/usr/bin/python3", torchArgs);
    runs.push(torch);
  } else {
    console.error(
      "(python3-torch not installed: no PyTorch column; apt-get install python3-torch to add it)",
    );
  }
}

// onnxruntime-web's WASM backend (SIMD, the same threads) under Node, for the
// activation rows: dev-only and outside the project (see bench/ort_reference.mjs).
const ortDir = `${here}../.cache/bench-ort`;
const ortArgs = [`${here}ort_reference.mjs`, String(threads)];
const ortReady = await Promise.all([
  Deno.stat(`${ortDir}/seed_activations.onnx`),
  Deno.stat(`${ortDir}/node_modules/onnxruntime-web`),
]).then(() => true, () => false);
let ort: Run | undefined;
if (ortReady && (!only || /activations/.test(only))) {
  ort = await run(`onnxruntime-web ${threads} threads`, "node", ortArgs);
  runs.push(ort);
} else if (!ortReady) {
  console.error(
    "(no onnxruntime-web column: npm install --prefix .cache/bench-ort onnxruntime-web@1.30.0 && /usr/bin/python3 bench/export_onnx.py)",
  );
}

// Further rounds of the columns the ratios compare, alternating.
const ours = runs[0];
const oursRounds: Run[] = [ours];
const torchRounds: Run[] = torch ? [torch] : [];
const ortRounds: Run[] = ort ? [ort] : [];
for (let round = 2; round <= rounds; round++) {
  oursRounds.push(await workloadRun(`${ours.label}, round ${round}`, ...allThreads));
  if (torch) {
    torchRounds.push(await run(`${torch.label}, round ${round}`, "/usr/bin/python3", torchArgs));
  }
  if (ort) ortRounds.push(await run(`${ort.label}, round ${round}`, "node", ortArgs));
}

/** One result per workload: the median of its rounds (GF/s and rates follow the time). */
function medianRun(label: string, all: Run[]): Run {
  const names = [...new Set(all.flatMap((r) => r.results.map((x) => x.name)))];
  const results = names.map((name) => {
    const found = all.map((r) => r.results.find((x) => x.name === name)).filter((x) => x != null);
    const ms = median(found.map((x) => x.ms));
    const first = found[0];
    return {
      ...first,
      ms,
      ...(first.gflops ? { gflops: (first.gflops * first.ms) / ms } : {}),
      ...(first.perSecond ? { perSecond: (first.perSecond * first.ms) / ms } : {}),
    };
  });
  return { label, results };
}

if (rounds > 1) {
  runs[0] = medianRun(`${ours.label} (median of ${rounds})`, oursRounds);
  if (torch) {
    const at = runs.indexOf(torch);
    torch = medianRun(`${torch.label} (median of ${rounds})`, torchRounds);
    runs[at] = torch;
  }
  if (ort) {
    const at = runs.indexOf(ort);
    ort = medianRun(`${ort.label} (median of ${rounds})`, ortRounds);
    runs[at] = ort;
  }
}

/** ours ÷ a peer per round (rounds ran in turn, close in time), as "median (min–max)". */
function ratio(name: string, peerRounds: Run[] = torchRounds): string {
  const per = oursRounds.map((r, i) => {
    const a = r.results.find((x) => x.name === name);
    const b = peerRounds[i]?.results.find((x) => x.name === name);
    return a && b && Number.isFinite(a.ms) ? a.ms / b.ms : NaN;
  }).filter(Number.isFinite);
  if (per.length === 0) return "—";
  const m = `${median(per).toFixed(2)}×`;
  return per.length === 1
    ? m
    : `${m} (${Math.min(...per).toFixed(2)}–${Math.max(...per).toFixed(2)})`;
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
  ...(ort ? ["÷ onnxruntime-web"] : []),
];
const rows = names.map((name) => {
  const cells = runs.map((r) => cell(r.results.find((x) => x.name === name)));
  if (torch) cells.push(ratio(name));
  if (ort) cells.push(ratio(name, ortRounds));
  return [name, ...cells];
});
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cols: string[]) => "| " + cols.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
console.log(line(header));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of rows) console.log(line(r));
console.log(
  '\nms: median wall time. GF/s: convolution FLOPs (multiply-adds × 2) per second; ascent steps count forward + input gradient, training forward + both gradients (×3). With Winograd\'s F(6×6, 3×3), F(4×4, 3×3) or F(2×2, 3×3) (every wasm column but "direct conv") the same count is divided by the time, so GF/s is the direct-convolution equivalent (F(4×4) does up to 4× fewer multiply-adds than it counts, F(6×6) up to 5.1×; filter-pattern ascents also compute only the maximised filters of the target layer, see the README): the arithmetic the Winograd products really do is in the rows "Winograd products" (real multiply-adds × 2 per second), against this machine\'s WASM SIMD ceiling in the rows above them.',
);
