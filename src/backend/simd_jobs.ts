/**
 * Jobs on convscope's SIMD module that the main thread and helper threads run
 * together on tfjs's shared WASM memory: batched matrix products
 * `C_p = A_p · B_p`, whole Winograd passes (input transform, products,
 * output transform), first layers (at most 4 input channels: the
 * convolution and its input and filter gradients), filter gradients of
 * 3×3 layers in the Winograd domain, ReLU's gradient, a matrix times one
 * vector, a matrix product that reads its right-hand side in place (a
 * dense layer's forward pass in training), column sums (bias gradients), and
 * the benchmark's SIMD ceiling.
 *
 * The Winograd path's 16 or 36 products per pass went to XNNPACK one by one,
 * each a separate dispatch to its thread pool with separate multiply and add
 * instructions, and its transforms ran on the main thread alone. Here one
 * job hands a whole pass to the module's `run_job`, with fused multiply-adds
 * in the products (the relaxed-SIMD build, where it validates). The main
 * thread and one helper per further tfjs thread claim its units (tiles to
 * transform, products) from counters in the shared memory. A helper is a
 * `node:worker_threads` worker that instantiates the same module on the same
 * memory and sleeps in `Atomics.wait` between jobs; it is unref'd, so it never
 * keeps the process alive. Where the memory is not shared (tfjs's
 * single-threaded build) or no worker can start, the main thread runs every
 * unit itself.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { Worker } from "node:worker_threads";
import type { WasmBackendLike } from "./kernel_registry.ts";
import { heapOffset, type SimdKernels } from "./simd_module.ts";

/**
 * A helper's loop. `control[0]` is a sequence number, odd while the main
 * thread writes a job and even once it is published; the job's generation
 * is half of it. The job itself is in the block in tfjs's memory.
 */
const HELPER_SOURCE = `
const { parentPort } = require("node:worker_threads");
parentPort.once("message", ({ module, memory, control, block, thread }) => {
  const run = new WebAssembly.Instance(module, { env: { memory } }).exports.run_job;
  let seen = Atomics.load(control, 0);
  for (;;) {
    let sequence = Atomics.load(control, 0);
    // A short spin first: a training step or an ascent hands out jobs
    // fractions of a millisecond apart.
    for (let spin = 0; sequence === seen && spin < 4000; spin++) sequence = Atomics.load(control, 0);
    if (sequence === seen) {
      Atomics.wait(control, 0, seen);
      continue;
    }
    if (sequence & 1) continue;
    seen = sequence;
    run(block, thread, (sequence >> 1) & 0x7fff);
  }
});
`;

/** Words of the job block (see `run_job` in simd_kernels.c). */
const BLOCK_WORDS = 64;
const JOB_KIND = 8, JOB_SCRATCH = 9, JOB_SCRATCH_FLOATS = 10, JOB_ARGS = 11;
const JOB_PRODUCTS = 1, JOB_WINOGRAD = 2, JOB_CEILING = 3, JOB_FEW_CHANNEL_INPUT_GRADIENT = 4;
const JOB_RELU_GRADIENT = 5, JOB_FEW_CHANNEL_FILTER_GRADIENT = 6, JOB_ROW_DOTS = 7;
const JOB_COLUMN_SUMS = 8, JOB_FEW_CHANNEL_CONVOLUTION = 9, JOB_WINOGRAD_FILTER_GRADIENT = 10;
const JOB_ROW_MAJOR_PRODUCT = 11;
/** A phase hands out at most this many units (8 bits of its claim word). */
const MAX_UNITS = 255;

/**
 * `count` items (rows, tiles) shared out as units of at least `least` items:
 * `[items per unit, units]`, at most {@linkcode MAX_UNITS} units.
 */
function shareOut(count: number, least = 1): [number, number] {
  const perUnit = Math.max(least, Math.ceil(count / MAX_UNITS));
  return [perUnit, Math.max(1, Math.ceil(count / perUnit))];
}

interface Pool {
  helpers: number;
  control: Int32Array;
  /** The job block, `BLOCK_WORDS` int32 words in tfjs's memory. */
  block: tf.TensorInfo;
}

const pools = new WeakMap<SimdKernels, Pool>();
let helpersOn = true;

/**
 * Lets the helper threads take part (default) or, off, runs every job on
 * the main thread. For tests and comparisons.
 */
export function useSimdHelpers(on: boolean): void {
  helpersOn = on;
}

function pool(simd: SimdKernels, backend: WasmBackendLike): Pool {
  let found = pools.get(simd);
  if (found) return found;
  const block = backend.makeOutput([BLOCK_WORDS], "int32");
  (backend.typedArrayFromHeap(block) as unknown as Int32Array).fill(0);
  const shared = typeof SharedArrayBuffer !== "undefined" &&
    simd.memory.buffer instanceof SharedArrayBuffer;
  const control = new Int32Array(shared ? new SharedArrayBuffer(16) : new ArrayBuffer(16));
  const wanted = shared ? Math.max(0, threads() - 1) : 0;
  let helpers = 0;
  try {
    for (let thread = 1; thread <= wanted; thread++) {
      const helper = new Worker(HELPER_SOURCE, { eval: true });
      helper.postMessage({
        module: simd.module,
        memory: simd.memory,
        control,
        block: heapOffset(backend, block),
        thread,
      });
      helper.unref();
      helpers++;
    }
  } catch {
    // No workers here: the main thread runs every unit (helpers that did
    // start still help; the counters hand out whatever they do not take).
  }
  found = { helpers, control, block };
  pools.set(simd, found);
  return found;
}

function threads(): number {
  try {
    return getThreadsCount();
  } catch {
    return 1;
  }
}

/**
 * The main thread's clock while it waits for the helpers' last units: it
 * spins for `spinMs`, then sleeps in short waits, and gives up after
 * `timeoutMs` of waiting (a helper that claimed a unit and never finished it
 * has died: fail instead of hanging). A gap of more than `suspendedMs`
 * between two readings means the whole process was suspended (SIGSTOP, a
 * laptop's sleep), the helpers with it, so the wait starts over.
 */
export class WaitClock {
  #started: number;
  #last: number;
  constructor(
    now: number,
    readonly timeoutMs = 30_000,
    readonly spinMs = 0.5,
    readonly suspendedMs = 1000,
  ) {
    this.#started = this.#last = now;
  }
  /** What to do at time `now`: keep spinning, sleep a little, or fail. */
  next(now: number): "spin" | "sleep" | "timeout" {
    if (now - this.#last > this.suspendedMs) this.#started = now;
    this.#last = now;
    const waited = now - this.#started;
    return waited > this.timeoutMs ? "timeout" : waited < this.spinMs ? "spin" : "sleep";
  }
}

/**
 * Runs one job: `units` are the unit counts of its (up to three) phases,
 * `args` its arguments, `scratchFloats` each thread's scratch; with
 * `helpersWanted` false the main thread runs it alone.
 */
function runJob(
  simd: SimdKernels,
  backend: WasmBackendLike,
  kind: number,
  units: number[],
  args: number[],
  scratchFloats: number,
  helpersWanted = true,
): void {
  const { helpers, control, block } = pool(simd, backend);
  const threadsUsed = helpers + 1;
  const scratch = backend.makeOutput([Math.max(1, threadsUsed * scratchFloats)], "float32");
  try {
    const blockAt = heapOffset(backend, block);
    const words = new Int32Array(simd.memory.buffer, blockAt, BLOCK_WORDS);
    const sequence = Atomics.add(control, 0, 1) + 1; // odd: writing
    // 15 bits: (gen << 16) stays a positive int32 on both sides.
    const gen = ((sequence + 1) >> 1) & 0x7fff;
    for (let phase = 0; phase < 3; phase++) {
      Atomics.store(words, 2 * phase, (gen << 16) | ((units[phase] ?? 0) << 8));
      Atomics.store(words, 2 * phase + 1, gen << 16);
    }
    words[JOB_KIND] = kind;
    words[JOB_SCRATCH] = heapOffset(backend, scratch);
    words[JOB_SCRATCH_FLOATS] = scratchFloats;
    words.set(args, JOB_ARGS);
    const publish = helpers > 0 && helpersOn && helpersWanted;
    // Unpublished, the job stays the main thread's alone.
    Atomics.store(control, 0, publish ? sequence + 1 : sequence - 1);
    if (publish) Atomics.notify(control, 0);
    simd.runJob(blockAt, 0, gen);
    // The main thread ran out of units to claim; wait for the helpers' last ones.
    const last = units.length - 1;
    const done = (gen << 16) | units[last];
    // A spin, then sleeps that the helper finishing the last unit cuts short
    // (so that a descheduled helper gets the core back).
    const clock = new WaitClock(performance.now());
    for (let spin = 0, now; (now = Atomics.load(words, 2 * last + 1)) !== done; spin++) {
      if ((spin & 1023) !== 1023) continue;
      const action = clock.next(performance.now());
      if (action === "timeout") {
        throw new Error("convscope: a SIMD helper thread stopped responding");
      }
      if (action === "sleep" && helpers > 0) Atomics.wait(words, 2 * last + 1, now, 1);
    }
  } finally {
    backend.disposeData(scratch.dataId);
  }
}

let zeros: { backend: object; info: tf.TensorInfo; size: number } | undefined;

/**
 * A float32 buffer of at least `size` zeros in `backend`'s memory, kept
 * between calls: what the jobs read for pixels outside their input (padding)
 * and for a missing bias. Never written to.
 */
export function sharedZeros(backend: WasmBackendLike, size: number): tf.TensorInfo {
  if (zeros?.backend === backend && zeros.size >= size) return zeros.info;
  if (zeros?.backend === backend) backend.disposeData(zeros.info.dataId, true);
  const info = backend.makeOutput([size], "float32");
  (backend.typedArrayFromHeap(info) as Float32Array).fill(0);
  zeros = { backend, info, size };
  return info;
}

/** Floats of one thread's scratch for packing the rows of an `[M, K]` matrix. */
function packedRows(M: number, K: number): number {
  return Math.ceil(M / 4) * 4 * K;
}

/**
 * `C_p = A_p · B_p` for `p < count`: `a` holds `count` row-major `[M, K]`
 * matrices, `c` receives `count` row-major `[M, N]` ones, and `b` holds
 * `count` `[K, N]` matrices in panels of 8 columns (see
 * {@linkcode panelIndex}). N must be a multiple of 8.
 */
export function batchedProducts(
  simd: SimdKernels,
  backend: WasmBackendLike,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  c: tf.TensorInfo,
  count: number,
  M: number,
  K: number,
  N: number,
): void {
  if (N % 8 !== 0) throw new Error(`batchedProducts: N = ${N} is not a multiple of 8`);
  if (count > MAX_UNITS) throw new Error(`batchedProducts: ${count} products in one call`);
  const at = (info: tf.TensorInfo) => heapOffset(backend, info);
  runJob(
    simd,
    backend,
    JOB_PRODUCTS,
    [count],
    [at(a), at(b), at(c), count, M, K, N],
    packedRows(M, K),
  );
}

/**
 * Floats from one of a pass's transformed-input or product matrices
 * (`[count, channels]`) to the next: one cache line more than the matrix.
 * The transforms write (and read) one row of every matrix per tile, 36 or
 * 64 streams at once, and matrices a multiple of 4 KiB apart put them all on
 * the same L1 sets: F(6×6) at 64 channels in passes of 256 tiles (64 KiB
 * apart) took 1.09–1.18× F(4×4)'s time on VGG16's block1_conv2 at batch 9,
 * and 0.82–0.85× with the extra line; VGG16's 18² layer at batch 8, 512
 * channels in passes of 64 tiles, 25.7 → 24.5 ms (alternating).
 */
export function winogradMatrixFloats(count: number, channels: number): number {
  return count * channels + 16;
}

/** One pass of a Winograd convolution, as `conv2DWinograd` lays it out. */
export interface WinogradPassArgs {
  /** The output tile's side: 2, 4 or 6 for F(2×2), F(4×4) or F(6×6). */
  tile: 2 | 4 | 6;
  x: number;
  zeros: number;
  inH: number;
  inW: number;
  inC: number;
  padTop: number;
  padLeft: number;
  tilesH: number;
  tilesW: number;
  /** The pass's tiles: [first, first + count). */
  first: number;
  count: number;
  /**
   * The transformed inputs, 16, 36 or 64 `[count, inC]` matrices, each
   * `winogradMatrixFloats(count, inC)` floats after the one before.
   */
  v: number;
  /** The transformed filter in panels (16, 36 or 64 `[inC, outC]`). */
  u: number;
  /** The products, 16, 36 or 64 `[count, outC]` matrices, spaced the same way. */
  m: number;
  bias: number;
  relu: boolean;
  y: number;
  outH: number;
  outW: number;
  outC: number;
  /** A scratch table of 2 × positions int32 words. */
  table: tf.TensorInfo;
}

/**
 * A whole Winograd pass as one job: input transform, products (outC a
 * multiple of 8), output transform with bias and ReLU. Each thread's scratch
 * holds its packed rows (products) or, for F(6×6), one zero-padded 8×8 tile
 * (input transform).
 */
export function winogradPass(
  simd: SimdKernels,
  backend: WasmBackendLike,
  pass: WinogradPassArgs,
): void {
  const positions = (pass.tile + 2) ** 2;
  if (pass.outC % 8 !== 0) throw new Error(`winogradPass: ${pass.outC} output channels`);
  const addresses = backend.typedArrayFromHeap(pass.table) as unknown as Int32Array;
  for (let k = 0; k < positions; k++) {
    addresses[k] = pass.v + 4 * k * winogradMatrixFloats(pass.count, pass.inC);
    addresses[positions + k] = pass.m + 4 * k * winogradMatrixFloats(pass.count, pass.outC);
  }
  const [unitTiles, tileUnits] = shareOut(pass.count);
  runJob(simd, backend, JOB_WINOGRAD, [tileUnits, positions, tileUnits], [
    pass.tile,
    pass.x,
    pass.zeros,
    pass.inH,
    pass.inW,
    pass.inC,
    pass.padTop,
    pass.padLeft,
    pass.tilesH,
    pass.tilesW,
    pass.first,
    pass.count,
    pass.v,
    pass.u,
    pass.m,
    pass.bias,
    pass.relu ? 1 : 0,
    pass.y,
    pass.outH,
    pass.outW,
    pass.outC,
    unitTiles,
    heapOffset(backend, pass.table),
  ], Math.max(packedRows(pass.count, pass.inC), pass.tile === 6 ? 64 * pass.inC : 0));
}

/**
 * A 3×3, stride-1 convolution whose input has at most 4 channels (a first
 * layer reading a picture) with its bias and optionally ReLU, as one job: `y`
 * (`[batch, outH, outW, outC]`, outC a multiple of 8) from `x` (`[batch, inH,
 * inW, inC]`) and the HWIO filter `w`; `padTop`/`padLeft` as in the layer.
 */
export function fewChannelConvolution(
  simd: SimdKernels,
  backend: WasmBackendLike,
  g: {
    x: tf.TensorInfo;
    w: tf.TensorInfo;
    bias?: tf.TensorInfo;
    relu: boolean;
    y: tf.TensorInfo;
    padTop: number;
    padLeft: number;
  },
): void {
  const [, inH, inW, inC] = g.x.shape;
  const [batch, outH, outW, outC] = g.y.shape;
  if (inC > 4 || outC % 8 !== 0) {
    throw new Error(`fewChannelConvolution: ${inC} → ${outC} channels`);
  }
  const rows = batch * outH;
  if (rows === 0 || outW === 0) return;
  const [unitRows, units] = shareOut(rows);
  const at = (info: tf.TensorInfo) => heapOffset(backend, info);
  runJob(simd, backend, JOB_FEW_CHANNEL_CONVOLUTION, [units], [
    at(g.x),
    at(g.w),
    g.bias ? at(g.bias) : 0,
    at(g.y),
    inH,
    inW,
    inC,
    outH,
    outW,
    outC,
    g.padTop,
    g.padLeft,
    g.relu ? 1 : 0,
    rows,
    unitRows,
  ], 0);
}

/**
 * The input gradient of a 3×3, stride-1 convolution whose input has at most
 * 4 channels (a first layer reading a picture) as one job: `dx` (`[batch,
 * inH, inW, inC]`) from `dy` (`[batch, outH, outW, outC]`, outC a multiple
 * of 4) and the HWIO filter `w`; `padTop`/`padLeft` are the forward
 * convolution's.
 */
export function fewChannelInputGradient(
  simd: SimdKernels,
  backend: WasmBackendLike,
  g: {
    dy: tf.TensorInfo;
    w: tf.TensorInfo;
    dx: tf.TensorInfo;
    padTop: number;
    padLeft: number;
  },
): void {
  const [batch, inH, inW, inC] = g.dx.shape;
  const [, outH, outW, outC] = g.dy.shape;
  if (inC > 4 || outC % 4 !== 0) {
    throw new Error(`fewChannelInputGradient: ${inC} → ${outC} channels`);
  }
  const rows = batch * inH;
  if (rows === 0 || inW === 0) return;
  const [unitRows, units] = shareOut(rows);
  const at = (info: tf.TensorInfo) => heapOffset(backend, info);
  runJob(simd, backend, JOB_FEW_CHANNEL_INPUT_GRADIENT, [units], [
    at(g.dy),
    at(g.w),
    at(g.dx),
    inH,
    inW,
    inC,
    outH,
    outW,
    outC,
    g.padTop,
    g.padLeft,
    rows,
    unitRows,
  ], 0);
}

/**
 * A filter-gradient job's tensors: the forward convolution's input `x`
 * (`[batch, inH, inW, inC]`), its output gradient `dy` (`[batch, outH, outW,
 * outC]`) and the HWIO gradient `dw` (`[3, 3, inC, outC]`) it writes, with
 * the forward convolution's `padTop`/`padLeft`.
 */
export interface FilterGradientJob {
  x: tf.TensorInfo;
  dy: tf.TensorInfo;
  dw: tf.TensorInfo;
  padTop: number;
  padLeft: number;
}

/**
 * The filter gradient of a 3×3, stride-1 convolution whose input has at most
 * 4 channels (a first layer reading a picture) as one job: `dw` (HWIO, `[3,
 * 3, inC, outC]`, outC a multiple of 8) from the input `x` (`[batch, inH,
 * inW, inC]`) and `dy` (`[batch, outH, outW, outC]`); `padTop`/`padLeft` are
 * the forward convolution's.
 */
export function fewChannelFilterGradient(
  simd: SimdKernels,
  backend: WasmBackendLike,
  g: FilterGradientJob,
): void {
  const [batch, inH, inW, inC] = g.x.shape;
  const [, outH, outW, outC] = g.dy.shape;
  if (inC > 4 || outC % 8 !== 0) {
    throw new Error(`fewChannelFilterGradient: ${inC} → ${outC} channels`);
  }
  const rows = batch * outH;
  if (rows === 0 || outW === 0) {
    // No output positions: nothing to sum.
    (backend.typedArrayFromHeap(g.dw) as Float32Array).fill(0);
    return;
  }
  const [unitRows, units] = shareOut(rows);
  // Each unit's own sums, added up by the second phase.
  const parts = backend.makeOutput([units * 9 * inC * outC], "float32");
  const at = (info: tf.TensorInfo) => heapOffset(backend, info);
  try {
    runJob(simd, backend, JOB_FEW_CHANNEL_FILTER_GRADIENT, [units, 9], [
      at(g.x),
      at(g.dy),
      at(parts),
      at(g.dw),
      inH,
      inW,
      inC,
      outH,
      outW,
      outC,
      g.padTop,
      g.padLeft,
      rows,
      unitRows,
      units,
    ], 0);
  } finally {
    backend.disposeData(parts.dataId);
  }
}

/**
 * Tiles a thread transforms at a time in {@linkcode winogradFilterGradient}:
 * one position's transformed input and gradient (`tiles × (inC + outC)`
 * floats) stay within 32 KB, the L1 cache, while its product runs.
 */
export function filterGradientChunk(inC: number, outC: number): number {
  return Math.max(8, Math.min(256, Math.floor(8192 / (inC + outC))));
}

/**
 * The filter gradient of a 3×3, stride-1, undilated convolution in the
 * Winograd domain (F(2×2, 3×3) transposed) as one job: `dw` (HWIO, `[3, 3,
 * inC, outC]`) from the input `x` (`[batch, inH, inW, inC]`, inC a multiple
 * of 4) and `dy` (`[batch, outH, outW, outC]`, outC a multiple of 8);
 * `padTop`/`padLeft` are the forward convolution's.
 */
export function winogradFilterGradient(
  simd: SimdKernels,
  backend: WasmBackendLike,
  g: FilterGradientJob,
): void {
  const [batch, inH, inW, inC] = g.x.shape;
  const [, outH, outW, outC] = g.dy.shape;
  if (inC % 4 !== 0 || outC % 8 !== 0 || inC === 0) {
    throw new Error(`winogradFilterGradient: ${inC} → ${outC} channels`);
  }
  const tilesH = Math.ceil(outH / 2), tilesW = Math.ceil(outW / 2);
  const tiles = batch * tilesH * tilesW;
  if (tiles === 0) {
    // No output positions: nothing to sum.
    (backend.typedArrayFromHeap(g.dw) as Float32Array).fill(0);
    return;
  }
  const chunk = filterGradientChunk(inC, outC);
  const [unitTiles, units] = shareOut(tiles, chunk);
  const [unitChannels, channelUnits] = shareOut(inC);
  const threadsUsed = pool(simd, backend).helpers + 1;
  const at = (info: tf.TensorInfo) => heapOffset(backend, info);
  runJob(
    simd,
    backend,
    JOB_WINOGRAD_FILTER_GRADIENT,
    [threadsUsed, units, channelUnits],
    [
      at(g.x),
      at(g.dy),
      at(sharedZeros(backend, Math.max(inC, outC))),
      at(g.dw),
      inH,
      inW,
      inC,
      outH,
      outW,
      outC,
      g.padTop,
      g.padLeft,
      tilesH,
      tilesW,
      tiles,
      unitTiles,
      chunk,
      threadsUsed,
      unitChannels,
    ],
    16 * inC * outC + 16 * chunk * (inC + outC),
  );
}

/**
 * `C = A · B` for row-major `A` `[M, K]`, `B` `[K, N]` and `C` `[M, N]` (N a
 * multiple of 8) as one job that reads `B` in place: a dense layer's forward
 * pass in training, where XNNPACK would pack the changing weights anew at
 * every step.
 */
export function rowMajorProduct(
  simd: SimdKernels,
  backend: WasmBackendLike,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  c: tf.TensorInfo,
): void {
  const [M, K] = a.shape.slice(-2), [bK, N] = b.shape.slice(-2);
  if (bK !== K || N % 8 !== 0 || tf.util.sizeFromShape(c.shape) !== M * N) {
    throw new Error(`rowMajorProduct: [${a.shape}] · [${b.shape}] into [${c.shape}]`);
  }
  if (M === 0 || N === 0) return;
  if (K === 0) {
    (backend.typedArrayFromHeap(c) as Float32Array).fill(0);
    return;
  }
  const [unitPanels, units] = shareOut(N / 8);
  const at = (info: tf.TensorInfo) => heapOffset(backend, info);
  runJob(simd, backend, JOB_ROW_MAJOR_PRODUCT, [units], [
    at(a),
    at(b),
    at(c),
    M,
    K,
    N,
    unitPanels,
  ], 0);
}

/**
 * `y[r] = Σ_k w[r, k] · x[k]` for a row-major `[rows, K]` matrix `w` as one
 * job: a dense layer's input gradient at batch 1 (`dx = dy · Wᵀ`), which
 * reads the weights once.
 */
export function rowDots(
  simd: SimdKernels,
  backend: WasmBackendLike,
  w: tf.TensorInfo,
  x: tf.TensorInfo,
  y: tf.TensorInfo,
): void {
  const [rows, K] = w.shape.slice(-2);
  if (tf.util.sizeFromShape(x.shape) !== K || tf.util.sizeFromShape(y.shape) !== rows) {
    throw new Error(`rowDots: [${w.shape}] · [${x.shape}] into [${y.shape}]`);
  }
  if (rows === 0) return;
  const [unitRows, units] = shareOut(rows);
  const at = (info: tf.TensorInfo) => heapOffset(backend, info);
  runJob(simd, backend, JOB_ROW_DOTS, [units], [
    at(w),
    at(x),
    at(y),
    rows,
    K,
    unitRows,
  ], 0);
}

/**
 * `out[c] = Σ_r x[r, c]` for a float32 tensor viewed as `[rows, C]` (every
 * axis but the last summed: a layer's bias gradient) as one job.
 */
export function columnSums(
  simd: SimdKernels,
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  out: tf.TensorInfo,
): void {
  const C = x.shape.at(-1) ?? 1;
  const rows = C === 0 ? 0 : tf.util.sizeFromShape(x.shape) / C;
  if (tf.util.sizeFromShape(out.shape) !== C) {
    throw new Error(`columnSums: [${x.shape}] into [${out.shape}]`);
  }
  // At least 256 rows a unit: fewer, and a helper's wake-up costs more than its share.
  const [unitRows, units] = shareOut(rows, 256);
  const parts = backend.makeOutput([units * C], "float32");
  const at = (info: tf.TensorInfo) => heapOffset(backend, info);
  try {
    runJob(
      simd,
      backend,
      JOB_COLUMN_SUMS,
      [units, 1],
      [
        at(x),
        at(parts),
        at(out),
        rows,
        C,
        unitRows,
        units,
      ],
      0,
      units > 1,
    );
  } finally {
    backend.disposeData(parts.dataId);
  }
}

/**
 * Below this many values ReLU's gradient runs on the main thread alone: a
 * helper's wake-up (20–100 µs) is a large share of a pass that short
 * (VGG16's block1 at batch 1, 1.4 M values: 0.24 ms alone, against 0.45 ms
 * for tfjs's two ops). At batch 12 (17 M values) the job takes 2.8–4.0 ms
 * shared, 5.0 ms alone, 8.3 ms as tfjs's ops.
 */
const RELU_GRADIENT_SHARED_FROM = 4 << 20;

/** ReLU's gradient from its output, as one job: `out = y > 0 ? dy : 0`. */
export function reluGradient(
  simd: SimdKernels,
  backend: WasmBackendLike,
  dy: tf.TensorInfo,
  y: tf.TensorInfo,
  out: tf.TensorInfo,
): void {
  const count = tf.util.sizeFromShape(y.shape);
  const unitValues = 4 * Math.ceil(Math.max(count / MAX_UNITS, 16_384) / 4);
  const at = (info: tf.TensorInfo) => heapOffset(backend, info);
  runJob(
    simd,
    backend,
    JOB_RELU_GRADIENT,
    [Math.max(1, Math.ceil(count / unitValues))],
    [
      at(dy),
      at(y),
      at(out),
      count,
      unitValues,
    ],
    0,
    count >= RELU_GRADIENT_SHARED_FROM,
  );
}

/**
 * The multiply-add ceiling of this runtime's WASM SIMD on the job threads:
 * `units` × `rounds` × 12 independent vector multiply-adds with no memory
 * traffic, shared out like any job; returns the multiply-adds done (× 4
 * lanes), for the benchmark to divide by its time.
 */
export function simdCeilingJob(
  simd: SimdKernels,
  backend: WasmBackendLike,
  units: number,
  rounds: number,
): number {
  if (units > MAX_UNITS) throw new Error(`simdCeilingJob: ${units} units in one job`);
  runJob(simd, backend, JOB_CEILING, [units], [rounds], 4);
  return units * rounds * 12 * 4;
}

/**
 * Where value (k, n) of a `[K, N]` matrix sits in the panel layout that
 * {@linkcode batchedProducts} reads: panels of 8 columns, each K rows of 8.
 *
 * @example
 * ```ts
 * import { panelIndex } from "./simd_jobs.ts";
 * // Row 2, column 9 of a [4, 16] matrix: panel 1 (columns 8-15), its row 2, lane 1.
 * if (panelIndex(2, 9, 4) !== 32 + 2 * 8 + 1) throw new Error("panel layout");
 * ```
 */
export function panelIndex(k: number, n: number, K: number): number {
  return ((n >> 3) * K + k) * 8 + (n & 7);
}

/**
 * `count` row-major `[K, N]` matrices, one after another, in the panel layout
 * of {@linkcode panelIndex}.
 *
 * @example
 * ```ts
 * import { toPanels } from "./simd_jobs.ts";
 * // One [2, 8] matrix is one panel: rows stay rows.
 * const rows = Float32Array.from({ length: 16 }, (_, i) => i);
 * if (toPanels(rows, 1, 2, 8).join() !== rows.join()) throw new Error("one panel");
 * ```
 */
export function toPanels(
  values: ArrayLike<number>,
  count: number,
  K: number,
  N: number,
): Float32Array {
  const panels = new Float32Array(count * K * N);
  for (let p = 0; p < count; p++) {
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        panels[p * K * N + panelIndex(k, n, K)] = values[(p * K + k) * N + n];
      }
    }
  }
  return panels;
}
