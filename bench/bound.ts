/**
 * `deno task bench:bound`: how fast the 64-filter ascent rows could be at
 * best on this machine, against the issue's target of 0.8× PyTorch's time,
 * from four measurements made here, one after the other:
 *
 * - the WASM SIMD ceiling (independent fused multiply-adds on every thread,
 *   the benchmark's own ceiling job);
 * - the CPU's native ceiling at its widest vectors (AVX-512 or AVX2) and at
 *   128 bits (bench/native_peak.c, when Debian's clang-16 is installed);
 * - PyTorch's convolutions at the rows' shapes, batch 64
 *   (bench/torch_conv_rates.py), and its 64-filter ascent steps
 *   (torch_reference.py, the benchmark's own script), when python3-torch is.
 *
 * The bound counts only the multiply-adds of the Winograd products (forward
 * and input gradient of every convolution up to the row's layer, 64 images;
 * the first layer's direct convolution; the last layer narrowed to a chunk's
 * 8 filters, as filterPatterns runs it) at the WASM ceiling: transforms,
 * ReLU and pooling count as free. It prints what share of the ceiling the
 * whole step would have to sustain to reach 0.8× PyTorch's time, for
 * F(6×6, 3×3) without any tile waste (the most generous case) and for the
 * best whole tiles of F(4×4) or F(6×6).
 *
 * Flags: --threads N (default: all cores); --torch-from FILE takes PyTorch's
 * 64-filter steps from the raw output of a `deno task bench` run (the median
 * over its rounds) instead of running them here: PyTorch's side of a row is
 * one run after one warm-up, and its block2–3 rows vary by 1.5× between
 * processes.
 *
 * @module
 */
import os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/init.ts";
import { simdCeilingJob } from "../src/backend/simd_jobs.ts";
import { simdKernels, useRelaxedSimd } from "../src/backend/simd_module.ts";
import type { WasmBackendLike } from "../src/backend/kernel_registry.ts";
import { median } from "./stats.ts";

const threadsAt = Deno.args.indexOf("--threads");
const torchFromAt = Deno.args.indexOf("--torch-from");
const torchFrom = torchFromAt >= 0 ? Deno.args[torchFromAt + 1] : undefined;
const threads = threadsAt >= 0 ? Number(Deno.args[threadsAt + 1]) : os.cpus().length;
const here = new URL(".", import.meta.url).pathname;
const python = "/usr/bin/python3";

/** VGG16's convolutions up to block5_conv1 at 150²: [name, side, in, out]. */
const LAYERS: [string, number, number, number][] = [
  ["block1_conv1", 150, 3, 64],
  ["block1_conv2", 150, 64, 64],
  ["block2_conv1", 75, 64, 128],
  ["block2_conv2", 75, 128, 128],
  ["block3_conv1", 37, 128, 256],
  ["block3_conv2", 37, 256, 256],
  ["block3_conv3", 37, 256, 256],
  ["block4_conv1", 18, 256, 512],
  ["block4_conv2", 18, 512, 512],
  ["block4_conv3", 18, 512, 512],
  ["block5_conv1", 9, 512, 512],
];
const IMAGES = 64;
const NARROWED_FILTERS = 8;

/** Multiply-adds ×2 of one image's forward pass through one layer. */
function layerFlops(side: number, inC: number, outC: number, tiles: "ideal" | "whole"): number {
  if (inC <= 4) return 2 * side * side * 9 * inC * outC;
  if (tiles === "ideal") return 2 * side * side * (64 / 36) * inC * outC;
  const products = (m: number) => Math.ceil(side / m) ** 2 * (m + 2) ** 2;
  return 2 * Math.min(products(4), products(6)) * inC * outC;
}

/** The row's products: forward and input gradient, 64 images. */
function rowFlops(layer: string, tiles: "ideal" | "whole"): number {
  let flops = 0;
  for (const [name, side, inC, outC] of LAYERS) {
    const last = name === layer;
    flops += 2 * IMAGES * layerFlops(side, inC, last ? NARROWED_FILTERS : outC, tiles);
    if (last) break;
  }
  return flops;
}

async function json(command: string, args: string[]): Promise<unknown> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}

async function have(command: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

// 1. The WASM ceiling (relaxed SIMD: fused multiply-add).
await initBackend({ threads });
const backend = tf.backend() as unknown as WasmBackendLike;
useRelaxedSimd(true);
const simd = simdKernels(backend);
if (!simd) throw new Error("the SIMD module did not load: no WASM ceiling to measure");
const units = 16, rounds = 200_000;
const ceilingRuns: number[] = [];
simdCeilingJob(simd, backend, units, rounds);
for (let i = 0; i < 9; i++) {
  const start = performance.now();
  simdCeilingJob(simd, backend, units, rounds);
  ceilingRuns.push(2 * units * rounds * 12 * 4 / (performance.now() - start) / 1e6);
}
const ceiling = Math.max(...ceilingRuns);
console.log(
  `CPU: ${os.cpus()[0]?.model ?? "?"}, ${threads} threads\n` +
    `WASM SIMD ceiling (fused multiply-add, ${simd.relaxed ? "relaxed SIMD" : "plain"}): ` +
    `${ceiling.toFixed(0)} GFLOP/s (best of 9; median ${median(ceilingRuns).toFixed(0)})`,
);

// 2. The native ceilings.
if (await have("clang-16", ["--version"])) {
  const wide = (await Deno.readTextFile("/proc/cpuinfo")).includes(" avx512f")
    ? ["-mavx512f"]
    : ["-mavx2"];
  const binary = await Deno.makeTempFile();
  const built = await new Deno.Command("clang-16", {
    args: ["-O2", ...wide, "-mfma", "-pthread", `${here}native_peak.c`, "-o", binary],
  }).output();
  if (!built.success) throw new Error(new TextDecoder().decode(built.stderr));
  const peak = await json(binary, [String(threads)]) as {
    widest: number;
    lanes: number;
    sse128: number;
  };
  await Deno.remove(binary);
  console.log(
    `native ceiling, ${peak.lanes} lanes (${peak.lanes === 16 ? "AVX-512" : "AVX2"}): ` +
      `${peak.widest.toFixed(0)} GFLOP/s; 4 lanes (128-bit): ${peak.sse128.toFixed(0)} GFLOP/s; ` +
      `widest ÷ WASM: ${(peak.widest / ceiling).toFixed(2)}×`,
  );
} else {
  console.log("native ceiling: skipped (no clang-16: apt-get install clang-16)");
}

// 3. PyTorch.
if (!await have(python, ["-c", "import torch"])) {
  console.log("PyTorch: skipped (apt-get install python3-torch)");
  Deno.exit(0);
}
const convs = await json(python, [`${here}torch_conv_rates.py`, String(threads)]) as {
  shape: [number, number, number];
  forwardMs: number;
  stepMs: number;
  gflops: number;
}[];
console.log("\nPyTorch's convolutions, batch 64 (direct-convolution GFLOP/s of the forward pass):");
for (const c of convs) {
  const [side, inC, outC] = c.shape;
  console.log(
    `  ${side}², ${inC}→${outC}: forward ${c.forwardMs.toFixed(0)} ms ` +
      `(${c.gflops.toFixed(0)} GFLOP/s), forward + input gradient ${c.stepMs.toFixed(0)} ms`,
  );
}
// The bench's section labels, e.g. "PyTorch 2 threads, round 3".
const onThreads = `${threads} thread${threads === 1 ? "" : "s"}`;
const steps = torchFrom
  ? await stepsFromBench(torchFrom, `PyTorch ${onThreads}`)
  : await stepsMeasuredHere();
// Ours, from the same run: the all-threads wasm rounds.
const ours = torchFrom ? await stepsFromBench(torchFrom, `wasm ${onThreads}`) : [];

/** The 64-filter steps in the sections of a bench's raw output whose label starts so. */
async function stepsFromBench(
  file: string,
  label: string,
): Promise<{ name: string; ms: number }[]> {
  const found: { name: string; ms: number }[] = [];
  let inSection = false;
  for (const line of (await Deno.readTextFile(file)).split("\n")) {
    if (line.startsWith("== ")) {
      const name = line.slice(3);
      inSection = name === label || name.startsWith(`${label}, round`);
    }
    const row = /^\s+(ascent step VGG16 → block\d_conv1 150², 64 filters): ([\d.]+) ms/.exec(line);
    if (inSection && row) found.push({ name: row[1], ms: Number(row[2]) });
  }
  if (found.length === 0) throw new Error(`${file}: no 64-filter rows of "${label}" in it`);
  return found;
}

async function stepsMeasuredHere(): Promise<{ name: string; ms: number }[]> {
  const found: { name: string; ms: number }[] = [];
  for (let round = 0; round < 3; round++) {
    const run = await json(python, [
      `${here}torch_reference.py`,
      String(threads),
      "--only",
      "64 filters",
    ]) as { results: { name: string; ms: number }[] };
    found.push(...run.results);
  }
  return found;
}

console.log(
  "\nThe 64-filter ascent rows: products at the WASM ceiling (everything else free) against " +
    `0.8× PyTorch's time (median of ${torchFrom ? `the rounds in ${torchFrom}` : "3 processes"}):`,
);
for (
  const name of ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
) {
  const row = `ascent step VGG16 → ${name} 150², 64 filters`;
  const torchMs = median(steps.filter((s) => s.name === row).map((s) => s.ms));
  const target = 0.8 * torchMs / 1000;
  const share = (tiles: "ideal" | "whole") => {
    const seconds = rowFlops(name, tiles) / ceiling / 1e9;
    return `${(rowFlops(name, tiles) / 1e9).toFixed(0)} GFLOP, ≥ ${seconds.toFixed(2)} s, ` +
      `needs ${(100 * seconds / target).toFixed(0)}% of the ceiling`;
  };
  const ourMs = median(ours.filter((s) => s.name === row).map((s) => s.ms));
  const reached = ours.length
    ? ` | ours ${(ourMs / 1000).toFixed(2)} s: the best whole tiles' products at ` +
      `${(100 * rowFlops(name, "whole") / 1e6 / ourMs / ceiling).toFixed(0)}% of the ceiling`
    : "";
  console.log(
    `  ${name}: PyTorch ${(torchMs / 1000).toFixed(2)} s, target ≤ ${target.toFixed(2)} s | ` +
      `F(6×6) without waste: ${share("ideal")} | best whole tiles: ${share("whole")}${reached}`,
  );
}
