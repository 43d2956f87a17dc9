/**
 * 3×3, stride-1 convolutions on the tfjs WASM backend by Winograd's minimal
 * filtering F(4×4, 3×3) or F(2×2, 3×3) (Lavin & Gray, 2016).
 *
 * F(2×2, 3×3) turns a convolution into 16 independent products `V_k · U_k`
 * of `[tiles, Cin] × [Cin, Cout]` with 2.25× fewer multiply-adds: every 4×4
 * input tile is transformed (`Bᵀ d B`), the 16 products run, and each 4×4
 * result becomes a 2×2 output tile (`Aᵀ m A`) with the bias and ReLU applied
 * on the way out. F(4×4, 3×3) does the same with 6×6 input tiles, 36
 * products and 4×4 output tiles: 4× fewer multiply-adds than a direct
 * convolution, 1.78× fewer than F(2×2) where the image is large, less where
 * the last tiles stick out (a 9×9 map takes nine 4×4 tiles), so the plan
 * takes whichever does fewer. F(6×6, 3×3) (8×8 input tiles, 64 products,
 * 1.78 multiplies per output against F(4×4)'s 2.25) runs as the SIMD
 * module's batched passes where its products are few enough against
 * F(4×4)'s to pay for its larger transforms (`F6_MAX_SHARE_OF_F4`); its
 * float32 rounding is 1.4–2× F(4×4)'s (on the trained book convnet ≤ 5.9e-6
 * of the largest output against float64; F(4×4) ≤ 2.6e-6). The filter's
 * transform `G g Gᵀ` is computed once per filter buffer and kept with it (on
 * the SIMD module: a training step has new weights every time). Every VGG16
 * convolution, the seed convnet's deeper ones, and all their input gradients
 * are this shape.
 *
 * With convscope's WASM SIMD module (`simd_module.ts`), each pass of tiles is
 * one job on every thread (`simd_jobs.ts`): the transforms and the products
 * (fused multiply-adds, the filter in 8-column panels). Where the output
 * channels are not a multiple of 8, the module's transforms run on the main
 * thread and the products on XNNPACK one by one; where the module cannot
 * load (no SIMD), F(2×2, 3×3)'s transforms run in JS.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  derivedFrom,
  replaceWasmKernel,
  runWasmKernel,
  type WasmBackendLike,
} from "./kernel_registry.ts";
import { heapOffset, simdKernels } from "./simd_module.ts";
import { panelIndex, sharedZeros, winogradMatrixFloats, winogradPass } from "./simd_jobs.ts";
import { conv2DFewChannels } from "./few_channel_conv.ts";
import { type ConvAttrs, isPlain3x3 } from "./_conv_shape.ts";

type TensorInfo = tf.TensorInfo;

/** The output tile's side m of F(m×m, 3×3). */
export type WinogradTile = 2 | 4 | 6;

/** Geometry of one convolution as F(m×m, 3×3) tiles. */
export interface WinogradPlan {
  /** Output tile side m: 2, 4 or 6 for F(2×2, 3×3), F(4×4, 3×3) or F(6×6, 3×3). */
  tile: WinogradTile;
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  padTop: number;
  padLeft: number;
  tilesH: number;
  tilesW: number;
}

let enabled = true;
let forcedTile: WinogradTile | undefined;
let ownProducts = true;

/**
 * Runs each Winograd pass as one SIMD job on every thread (default) or, off,
 * its products one by one on XNNPACK. For comparisons and tests.
 */
export function useOwnWinogradProducts(on: boolean): void {
  ownProducts = on;
}

/**
 * Turns the Winograd path on or off (it is on after `initBackend()`); off,
 * every convolution runs on XNNPACK's direct kernel. For comparisons.
 */
export function setWinogradConvolutions(on: boolean): void {
  enabled = on;
}

/**
 * Forces one tile size (2: F(2×2, 3×3), 4: F(4×4, 3×3), 6: F(6×6, 3×3),
 * each where the channels allow it, else the next smaller) or, undefined,
 * lets each plan choose (the default). For comparisons and tests.
 */
export function useWinogradTile(tile: WinogradTile | undefined): void {
  forcedTile = tile;
}

/**
 * F(4×4, 3×3) is taken when its products do at most this share of
 * F(2×2, 3×3)'s multiply-adds: its 36 products per tile are smaller matrices
 * and its transforms cost more per tile, so a small saving does not pay.
 */
const F4_MAX_SHARE_OF_F2 = 0.75;

/**
 * F(6×6, 3×3) is taken when its products do at most this share of
 * F(4×4, 3×3)'s (counting the rows the products pad to blocks of 4), where
 * F(4×4) beats F(2×2): its transforms cost more per tile, and its rounding is
 * 1.4–2× F(4×4)'s. Measured on 2 threads, forward plus input gradient,
 * F(6×6)'s time against the next best tile (alternating, with the transformed
 * matrices spaced apart, see `winogradMatrixFloats`): VGG16 at 150² 0.81×
 * (products 0.77×), 75² 0.84–0.89× (0.84×), 18² 0.93–0.95× (0.76×), 224²
 * 0.90× (0.82×); no better at 37² (0.96–0.97×, products 0.92×) or 56² (0.97×,
 * 0.91×), and slower at 28² (1.07×, 0.96×) and 14² (1.46×, 1.33×).
 */
const F6_MAX_SHARE_OF_F4 = 0.9;

/**
 * The same share at batches of {@linkcode F6_FEW_CHANNELS_MIN_BATCH} or more,
 * where equal products already pay: the book convnet's conv2d_4 at batch 32,
 * 0.80× F(4×4)'s time with as many products.
 */
const F6_MAX_SHARE_OF_F4_BATCHED = 1.0;

/**
 * Below this many multiply-adds per transformed value (`Cin·Cout / (Cin +
 * Cout)`), F(6×6)'s larger transforms pay only at batches of at least
 * {@linkcode F6_FEW_CHANNELS_MIN_BATCH}: 32 → 64 channels (21) took 1.03×
 * F(4×4)'s time at batch 1 and 0.85× at batch 32; 64 → 64 (32) 0.81× at
 * batch 1 (150²).
 */
const F6_MIN_MACS_PER_VALUE = 32;
const F6_FEW_CHANNELS_MIN_BATCH = 16;
let f6Allowed = true;

/**
 * Lets plans take F(6×6, 3×3) where it pays (default) or, off, F(4×4) at
 * most. For comparisons and tests.
 */
export function allowWinogradF6(on: boolean): void {
  f6Allowed = on;
}

/**
 * The transforms touch 16 values per tile on each side (Cin + Cout) and the
 * products do 16·Cin·Cout multiply-adds per tile; below a ratio of 16 the
 * saving no longer pays for the transforms (measured on 2 cores: 16→16
 * channels 0.5×, 32→32 1.2×, 32→64 1.1×, 64→64 1.7×, 512→512 1.9–2.1×).
 */
const MIN_CHANNELS = 16;
const MIN_MACS_PER_TILE_VALUE = 16;

/**
 * The plan for `x ⊛ filter` when the Winograd path applies and pays, else
 * undefined: NHWC, 3×3, stride 1, no dilation, float32, and enough channels.
 */
export function winogradPlan(
  x: TensorInfo,
  filter: TensorInfo,
  attrs: ConvAttrs,
): WinogradPlan | undefined {
  if (!enabled || !isPlain3x3(x, filter, attrs)) return undefined;
  const [, , inC, outC] = filter.shape;
  if (inC < MIN_CHANNELS || outC < MIN_CHANNELS) return undefined;
  if ((inC * outC) / (inC + outC) < MIN_MACS_PER_TILE_VALUE) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    1,
    1,
    attrs.pad as "valid",
    attrs.dimRoundingMode,
  );
  const { outHeight: outH, outWidth: outW } = info;
  if (outH < 1 || outW < 1) return undefined;
  // The F(4×4) transforms work on whole SIMD vectors of 4 channels; F(6×6)
  // runs only as the SIMD module's batched passes (8-column panels).
  const f4Fits = inC % 4 === 0 && outC % 4 === 0;
  const batch = x.shape[0];
  const f6Pays = (inC * outC) / (inC + outC) >= F6_MIN_MACS_PER_VALUE ||
    batch >= F6_FEW_CHANNELS_MIN_BATCH;
  const f6Fits = f4Fits && outC % 8 === 0 && ownProducts && f6Allowed;
  const products = (m: number) =>
    Math.ceil((batch * Math.ceil(outH / m) * Math.ceil(outW / m)) / 4) * 4 * (m + 2) ** 2;
  // Each tile's products, weighted by what its transforms cost on top; the
  // least wins, the larger tile on a tie.
  const f6Share = batch >= F6_FEW_CHANNELS_MIN_BATCH
    ? F6_MAX_SHARE_OF_F4_BATCHED
    : F6_MAX_SHARE_OF_F4;
  // F(6×6) only where F(4×4) already beats F(2×2): at VGG16's 9² (512
  // channels) F(6×6) was 0.69× F(2×2)'s time, but its input gradient 3.1e-5
  // off cpu's, against 2e-5 for every other layer.
  const f4Cost = f4Fits ? products(4) / F4_MAX_SHARE_OF_F2 : Infinity;
  const costs: [WinogradTile, number][] = [
    [2, products(2)],
    [4, f4Cost],
    [
      6,
      f6Fits && f6Pays && f4Cost <= products(2)
        ? products(6) / (F4_MAX_SHARE_OF_F2 * f6Share)
        : Infinity,
    ],
  ];
  const chosen = costs.reduce((best, next) => next[1] <= best[1] ? next : best)[0];
  const tile: WinogradTile = forcedTile === 6 && f6Fits
    ? 6
    : forcedTile && forcedTile >= 4 && f4Fits
    ? 4
    : forcedTile
    ? 2
    : chosen;
  return {
    tile,
    batch,
    inH: x.shape[1],
    inW: x.shape[2],
    inC,
    outH,
    outW,
    outC,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    tilesH: Math.ceil(outH / tile),
    tilesW: Math.ceil(outW / tile),
  };
}

/** The same convolution as F(m×m, 3×3) tiles. */
function withTile(plan: WinogradPlan, tile: WinogradTile): WinogradPlan {
  return {
    ...plan,
    tile,
    tilesH: Math.ceil(plan.outH / tile),
    tilesW: Math.ceil(plan.outW / tile),
  };
}

/**
 * Where the filter transform writes: 16 or 36 `[1, Cin, Cout]` matrices for
 * XNNPACK, or one `[positions, Cin, Cout]` tensor whose matrices are in the
 * SIMD jobs' panels of 8 columns (`panelIndex`).
 */
export type FilterLayout = "matrices" | "panels";

/** The transform's outputs for `layout`, and where plane value i goes in each. */
function filterOutputs(
  positions: number,
  inC: number,
  outC: number,
  layout: FilterLayout,
  backend: WasmBackendLike,
): { out: TensorInfo[]; u: Float32Array[]; index: Int32Array | undefined } {
  const plane = inC * outC;
  if (layout === "matrices") {
    const out = Array.from(
      { length: positions },
      () => backend.makeOutput([1, inC, outC], "float32"),
    );
    return {
      out,
      u: out.map((info) => backend.typedArrayFromHeap(info) as Float32Array),
      index: undefined,
    };
  }
  const info = backend.makeOutput([positions, inC, outC], "float32");
  const all = backend.typedArrayFromHeap(info) as Float32Array;
  const u = Array.from({ length: positions }, (_, k) => all.subarray(k * plane, (k + 1) * plane));
  const index = new Int32Array(plane);
  for (let ci = 0; ci < inC; ci++) {
    for (let co = 0; co < outC; co++) index[ci * outC + co] = panelIndex(ci, co, inC);
  }
  return { out: [info], u, index };
}

let simdFilterTransforms = true;

/**
 * Transforms filters in panels with the SIMD module (default, float32) or,
 * off, in JS (float64). For comparisons and tests.
 */
export function useSimdFilterTransforms(on: boolean): void {
  simdFilterTransforms = on;
}

/**
 * The panel layout's filter transform on the SIMD module, in float32: a
 * training step has new weights every time, and the JS transform took
 * 18 ms for 128 → 128 channels (F(4×4)), as long as the layer's pass.
 * Undefined where it does not apply or the module is missing.
 */
function simdFilterTransform(
  filter: TensorInfo,
  backend: WasmBackendLike,
  layout: FilterLayout,
  tile: WinogradTile,
): TensorInfo[] | undefined {
  const [, , inC, outC] = filter.shape;
  if (!simdFilterTransforms || layout !== "panels" || outC % 8 !== 0) return undefined;
  const simd = simdKernels(backend);
  if (!simd) return undefined;
  const info = backend.makeOutput([(tile + 2) ** 2, inC, outC], "float32");
  simd.winogradFilter(
    heapOffset(backend, filter),
    inC,
    outC,
    tile,
    heapOffset(backend, info),
  );
  return [info];
}

/**
 * `U_k = (G g Gᵀ)_k` for the 64 positions k of an 8×8 tile (F(6×6, 3×3)),
 * in panels, from an HWIO 3×3 filter: on the SIMD module, or in JS (float64)
 * where its transforms are switched off.
 */
export function transformFilter6(filter: TensorInfo, backend: WasmBackendLike): TensorInfo[] {
  const fast = simdFilterTransform(filter, backend, "panels", 6);
  if (fast) return fast;
  const [, , inC, outC] = filter.shape;
  const g = backend.typedArrayFromHeap(filter);
  const { out, u, index } = filterOutputs(64, inC, outC, "panels", backend);
  const plane = inC * outC;
  // G (8×3), rows for the points 0, 1, -1, 1/2, -1/2, 2, -2, ∞.
  const G = [
    [1, 0, 0],
    [-2 / 9, -2 / 9, -2 / 9],
    [-2 / 9, 2 / 9, -2 / 9],
    [1 / 90, 1 / 45, 2 / 45],
    [1 / 90, -1 / 45, 2 / 45],
    [32 / 45, 16 / 45, 8 / 45],
    [32 / 45, -16 / 45, 8 / 45],
    [0, 0, 1],
  ];
  const rows = new Float64Array(24);
  for (let i = 0; i < plane; i++) {
    for (let a = 0; a < 8; a++) {
      for (let col = 0; col < 3; col++) {
        rows[3 * a + col] = G[a][0] * g[col * plane + i] + G[a][1] * g[(3 + col) * plane + i] +
          G[a][2] * g[(6 + col) * plane + i];
      }
    }
    for (let a = 0; a < 8; a++) {
      for (let b = 0; b < 8; b++) {
        u[8 * a + b][index![i]] = G[b][0] * rows[3 * a] + G[b][1] * rows[3 * a + 1] +
          G[b][2] * rows[3 * a + 2];
      }
    }
  }
  return out;
}

/**
 * `U_k = (G g Gᵀ)_k` for the 36 positions k of a 6×6 tile (F(4×4, 3×3)), as
 * 36 `[1, Cin, Cout]` matrices (or in panels), from an HWIO 3×3 filter.
 * Computed in float64.
 */
export function transformFilter4(
  filter: TensorInfo,
  backend: WasmBackendLike,
  layout: FilterLayout = "matrices",
): TensorInfo[] {
  const [, , inC, outC] = filter.shape;
  const fast = simdFilterTransform(filter, backend, layout, 4);
  if (fast) return fast;
  const g = backend.typedArrayFromHeap(filter);
  const { out, u, index } = filterOutputs(36, inC, outC, layout, backend);
  const plane = inC * outC;
  // G (6×3), rows for the points 0, 1, -1, 2, -2, ∞.
  const G = [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ];
  const gg = new Float64Array(9), rows = new Float64Array(18);
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 9; k++) gg[k] = g[k * plane + i];
    // G g: 6×3.
    for (let a = 0; a < 6; a++) {
      const [c0, c1, c2] = G[a];
      for (let col = 0; col < 3; col++) {
        rows[3 * a + col] = c0 * gg[col] + c1 * gg[3 + col] + c2 * gg[6 + col];
      }
    }
    // (G g) Gᵀ: 6×6.
    for (let a = 0; a < 6; a++) {
      const r0 = rows[3 * a], r1 = rows[3 * a + 1], r2 = rows[3 * a + 2];
      for (let b = 0; b < 6; b++) {
        const [c0, c1, c2] = G[b];
        u[6 * a + b][index ? index[i] : i] = c0 * r0 + c1 * r1 + c2 * r2;
      }
    }
  }
  return out;
}

/**
 * `U_k = (G g Gᵀ)_k` for the 16 positions k of a 4×4 tile, as 16 `[1, Cin,
 * Cout]` matrices (or in panels), from an HWIO 3×3 filter.
 */
export function transformFilter(
  filter: TensorInfo,
  backend: WasmBackendLike,
  layout: FilterLayout = "matrices",
): TensorInfo[] {
  const [, , inC, outC] = filter.shape;
  const fast = simdFilterTransform(filter, backend, layout, 2);
  if (fast) return fast;
  const g = backend.typedArrayFromHeap(filter);
  const { out, u, index } = filterOutputs(16, inC, outC, layout, backend);
  const [u0, u1, u2, u3, u4, u5, u6, u7] = u.slice(0, 8);
  const [u8, u9, u10, u11, u12, u13, u14, u15] = u.slice(8);
  const plane = inC * outC;
  for (let i = 0; i < plane; i++) {
    const o = index ? index[i] : i;
    const g00 = g[i], g01 = g[plane + i], g02 = g[2 * plane + i];
    const g10 = g[3 * plane + i], g11 = g[4 * plane + i], g12 = g[5 * plane + i];
    const g20 = g[6 * plane + i], g21 = g[7 * plane + i], g22 = g[8 * plane + i];
    // G g: rows [g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2].
    const r10 = 0.5 * (g00 + g10 + g20), r11 = 0.5 * (g01 + g11 + g21);
    const r12 = 0.5 * (g02 + g12 + g22);
    const r20 = 0.5 * (g00 - g10 + g20), r21 = 0.5 * (g01 - g11 + g21);
    const r22 = 0.5 * (g02 - g12 + g22);
    // (G g) Gᵀ: the same combination along each row.
    u0[o] = g00, u1[o] = 0.5 * (g00 + g01 + g02), u2[o] = 0.5 * (g00 - g01 + g02), u3[o] = g02;
    u4[o] = r10, u5[o] = 0.5 * (r10 + r11 + r12), u6[o] = 0.5 * (r10 - r11 + r12), u7[o] = r12;
    u8[o] = r20, u9[o] = 0.5 * (r20 + r21 + r22), u10[o] = 0.5 * (r20 - r21 + r22), u11[o] = r22;
    u12[o] = g20, u13[o] = 0.5 * (g20 + g21 + g22), u14[o] = 0.5 * (g20 - g21 + g22);
    u15[o] = g22;
  }
  return out;
}

/**
 * `V_k = (Bᵀ d B)_k` for every 4×4 input tile d (stride 2, zero outside the
 * input), as 16 `[1, tiles, Cin]` matrices.
 */
export function transformInput(
  x: TensorInfo,
  plan: WinogradPlan,
  backend: WasmBackendLike,
): TensorInfo[] {
  const { batch, inH, inW, inC, padTop, padLeft, tilesH, tilesW } = plan;
  const rows = batch * tilesH * tilesW;
  const out = Array.from({ length: 16 }, () => backend.makeOutput([1, rows, inC], "float32"));
  const v = out.map((info) => backend.typedArrayFromHeap(info));
  const [v0, v1, v2, v3, v4, v5, v6, v7] = v.slice(0, 8);
  const [v8, v9, v10, v11, v12, v13, v14, v15] = v.slice(8);
  const xs = backend.typedArrayFromHeap(x);
  const offsets = new Int32Array(16);
  let tile = 0;
  for (let n = 0; n < batch; n++) {
    for (let ty = 0; ty < tilesH; ty++) {
      for (let tx = 0; tx < tilesW; tx++, tile++) {
        // Offset of each of the 16 input pixels, -1 where it is padding.
        for (let i = 0; i < 4; i++) {
          const y = 2 * ty - padTop + i;
          for (let j = 0; j < 4; j++) {
            const xx = 2 * tx - padLeft + j;
            offsets[4 * i + j] = y >= 0 && y < inH && xx >= 0 && xx < inW
              ? ((n * inH + y) * inW + xx) * inC
              : -1;
          }
        }
        const o0 = offsets[0], o1 = offsets[1], o2 = offsets[2], o3 = offsets[3];
        const o4 = offsets[4], o5 = offsets[5], o6 = offsets[6], o7 = offsets[7];
        const o8 = offsets[8], o9 = offsets[9], o10 = offsets[10], o11 = offsets[11];
        const o12 = offsets[12], o13 = offsets[13], o14 = offsets[14], o15 = offsets[15];
        const base = tile * inC;
        for (let c = 0; c < inC; c++) {
          const d00 = o0 < 0 ? 0 : xs[o0 + c], d01 = o1 < 0 ? 0 : xs[o1 + c];
          const d02 = o2 < 0 ? 0 : xs[o2 + c], d03 = o3 < 0 ? 0 : xs[o3 + c];
          const d10 = o4 < 0 ? 0 : xs[o4 + c], d11 = o5 < 0 ? 0 : xs[o5 + c];
          const d12 = o6 < 0 ? 0 : xs[o6 + c], d13 = o7 < 0 ? 0 : xs[o7 + c];
          const d20 = o8 < 0 ? 0 : xs[o8 + c], d21 = o9 < 0 ? 0 : xs[o9 + c];
          const d22 = o10 < 0 ? 0 : xs[o10 + c], d23 = o11 < 0 ? 0 : xs[o11 + c];
          const d30 = o12 < 0 ? 0 : xs[o12 + c], d31 = o13 < 0 ? 0 : xs[o13 + c];
          const d32 = o14 < 0 ? 0 : xs[o14 + c], d33 = o15 < 0 ? 0 : xs[o15 + c];
          // Bᵀ d: rows [d0 - d2, d1 + d2, d2 - d1, d1 - d3].
          const t00 = d00 - d20, t01 = d01 - d21, t02 = d02 - d22, t03 = d03 - d23;
          const t10 = d10 + d20, t11 = d11 + d21, t12 = d12 + d22, t13 = d13 + d23;
          const t20 = d20 - d10, t21 = d21 - d11, t22 = d22 - d12, t23 = d23 - d13;
          const t30 = d10 - d30, t31 = d11 - d31, t32 = d12 - d32, t33 = d13 - d33;
          // (Bᵀ d) B: the same along each row.
          const at = base + c;
          v0[at] = t00 - t02, v1[at] = t01 + t02, v2[at] = t02 - t01, v3[at] = t01 - t03;
          v4[at] = t10 - t12, v5[at] = t11 + t12, v6[at] = t12 - t11, v7[at] = t11 - t13;
          v8[at] = t20 - t22, v9[at] = t21 + t22, v10[at] = t22 - t21, v11[at] = t21 - t23;
          v12[at] = t30 - t32, v13[at] = t31 + t32, v14[at] = t32 - t31, v15[at] = t31 - t33;
        }
      }
    }
  }
  return out;
}

/**
 * `y = Aᵀ m A` for every tile's 16 products, plus bias, then ReLU if asked,
 * into the NHWC output (the last row and column of tiles may stick out).
 */
export function transformOutput(
  products: TensorInfo[],
  plan: WinogradPlan,
  bias: TensorInfo | undefined,
  relu: boolean,
  backend: WasmBackendLike,
): TensorInfo {
  const { batch, outH, outW, outC, tilesH, tilesW } = plan;
  const out = backend.makeOutput([batch, outH, outW, outC], "float32");
  const ys = backend.typedArrayFromHeap(out);
  const m = products.map((info) => backend.typedArrayFromHeap(info));
  const [m0, m1, m2, m3, m4, m5, m6, m7] = m.slice(0, 8);
  const [m8, m9, m10, m11, m12, m13, m14, m15] = m.slice(8);
  const b = bias ? backend.typedArrayFromHeap(bias) : new Float32Array(outC);
  const floor = relu ? 0 : -Infinity;
  let tile = 0;
  for (let n = 0; n < batch; n++) {
    for (let ty = 0; ty < tilesH; ty++) {
      const y = 2 * ty, lastRow = y + 1 >= outH;
      for (let tx = 0; tx < tilesW; tx++, tile++) {
        const xx = 2 * tx, lastCol = xx + 1 >= outW;
        const p00 = ((n * outH + y) * outW + xx) * outC;
        const p01 = p00 + outC, p10 = p00 + outW * outC, p11 = p10 + outC;
        const base = tile * outC;
        for (let c = 0; c < outC; c++) {
          const at = base + c;
          // Aᵀ m: rows [m0 + m1 + m2, m1 - m2 - m3].
          const s00 = m0[at] + m4[at] + m8[at], s01 = m1[at] + m5[at] + m9[at];
          const s02 = m2[at] + m6[at] + m10[at], s03 = m3[at] + m7[at] + m11[at];
          const s10 = m4[at] - m8[at] - m12[at], s11 = m5[at] - m9[at] - m13[at];
          const s12 = m6[at] - m10[at] - m14[at], s13 = m7[at] - m11[at] - m15[at];
          const bc = b[c];
          ys[p00 + c] = Math.max(floor, s00 + s01 + s02 + bc);
          if (!lastCol) ys[p01 + c] = Math.max(floor, s01 - s02 - s03 + bc);
          if (!lastRow) {
            ys[p10 + c] = Math.max(floor, s10 + s11 + s12 + bc);
            if (!lastCol) ys[p11 + c] = Math.max(floor, s11 - s12 - s13 + bc);
          }
        }
      }
    }
  }
  return out;
}

/** Which transforms the Winograd path runs on `backend`: `"simd"` or `"js"`. */
export function winogradTransforms(backend: object): "simd" | "js" {
  return simdKernels(backend as WasmBackendLike) ? "simd" : "js";
}

/** `relu?(x ⊛ filter + bias)` by Winograd for a plan from {@linkcode winogradPlan}. */
export function conv2DWinograd(
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  relu: boolean,
  plan: WinogradPlan,
  backend: WasmBackendLike,
): TensorInfo {
  const simd = simdKernels(backend);
  // The JS transforms are F(2×2) only.
  if (!simd && plan.tile !== 2) plan = withTile(plan, 2);
  // F(6×6) runs only as batched passes, which need 8-column panels.
  const own = ownProducts && plan.outC % 8 === 0;
  if (plan.tile === 6 && !own) plan = withTile(plan, 4);
  const tile = plan.tile;
  // Every intermediate is freed when a pass ends, also when a kernel throws.
  const free = (infos: TensorInfo[]) => infos.forEach((info) => backend.disposeData(info.dataId));
  if (!simd) {
    const u = derivedFrom(backend, filter, "winograd", () => transformFilter(filter, backend));
    const v = transformInput(x, plan, backend);
    let m: TensorInfo[] = [];
    try {
      m = xnnpackProducts(v, u, backend);
      free(v.splice(0));
      return transformOutput(m, plan, bias, relu, backend);
    } finally {
      free(v);
      free(m);
    }
  }
  const at = (info: TensorInfo) => heapOffset(backend, info);
  const { batch, inH, inW, inC, outH, outW, outC, padTop, padLeft, tilesH, tilesW } = plan;
  const positions = (tile + 2) ** 2;
  // Where the output channels fill the SIMD module's 8-column panels, each
  // pass is one job on every thread (transforms and products with fused
  // multiply-adds); elsewhere the products run one by one on XNNPACK.
  const layout: FilterLayout = own ? "panels" : "matrices";
  const u = derivedFrom(
    backend,
    filter,
    `winograd${tile}-${layout}`,
    () =>
      tile === 6
        ? transformFilter6(filter, backend)
        : (tile === 4 ? transformFilter4 : transformFilter)(filter, backend, layout),
  );
  const [input, output] = tile === 4
    ? [simd.winograd4Input, simd.winograd4Output]
    : [simd.winogradInput, simd.winogradOutput];
  const out = backend.makeOutput([batch, outH, outW, outC], "float32");
  const zero = at(sharedZeros(backend, Math.max(inC, outC)));
  const total = batch * tilesH * tilesW;
  const chunk = tilesPerChunk(inC, outC, total, positions, own);
  // The batched passes take the addresses of V's and M's matrices from a
  // table; so do F(4×4)'s kernels; F(2×2)'s take them as arguments.
  const table = own || tile !== 2 ? backend.makeOutput([2 * positions], "int32") : undefined;
  const buffers = (infos: TensorInfo[]) => {
    if (!table) return infos.map(at);
    (backend.typedArrayFromHeap(table) as unknown as Int32Array).set(infos.map(at));
    return [at(table)];
  };
  try {
    for (let first = 0; first < total; first += chunk) {
      const count = Math.min(chunk, total - first);
      const v: TensorInfo[] = [];
      let m: TensorInfo[] = [];
      try {
        if (own) {
          // One job: the transforms and the products, on every thread.
          v.push(backend.makeOutput([positions * winogradMatrixFloats(count, inC)], "float32"));
          m.push(backend.makeOutput([positions * winogradMatrixFloats(count, outC)], "float32"));
          winogradPass(simd, backend, {
            tile,
            x: at(x),
            zeros: zero,
            inH,
            inW,
            inC,
            padTop,
            padLeft,
            tilesH,
            tilesW,
            first,
            count,
            v: at(v[0]),
            u: at(u[0]),
            m: at(m[0]),
            bias: bias ? at(bias) : zero,
            relu,
            y: at(out),
            outH,
            outW,
            outC,
            table: table!,
          });
          continue;
        }
        for (let k = 0; k < positions; k++) v.push(backend.makeOutput([1, count, inC], "float32"));
        input(
          at(x),
          zero,
          inH,
          inW,
          inC,
          padTop,
          padLeft,
          tilesH,
          tilesW,
          first,
          count,
          ...buffers(v),
        );
        m = xnnpackProducts(v, u, backend);
        free(v.splice(0));
        output(
          ...buffers(m),
          bias ? at(bias) : zero,
          relu ? 0 : -Infinity,
          at(out),
          outH,
          outW,
          outC,
          tilesH,
          tilesW,
          first,
          count,
        );
      } finally {
        free(v);
        free(m);
      }
    }
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  } finally {
    if (table) backend.disposeData(table.dataId);
  }
  return out;
}

/** `V_k · U_k` for each position k, one XNNPACK product each. */
function xnnpackProducts(v: TensorInfo[], u: TensorInfo[], backend: WasmBackendLike): TensorInfo[] {
  return v.map((vk, k) =>
    runWasmKernel("BatchMatMul", backend, { a: vk, b: u[k] }, {
      transposeA: false,
      transposeB: false,
    })
  );
}

/**
 * Tiles per pass. The transformed inputs and products of a whole batch
 * are several times the size of the convolution's output (at batch 32,
 * 72×72, 32→64 channels, F(2×2): 250 MB), so large convolutions go in passes
 * whose intermediates stay within ~8 MB, in cache. `positions` is 16, 36 or
 * 64 for F(2×2), F(4×4), F(6×6). A pass whose products go to XNNPACK still
 * hands it at least 256 rows; the SIMD module's batched passes (`batched`)
 * about 64 (at 512 channels, 256 F(4×4) tiles are 38 MB: measured as fast
 * or faster in 64-tile passes, and F(6×6) at batch 32 and 64↔128 channels
 * 0.81–0.85× F(4×4)'s time with them against 1.09–1.14× without). The
 * batched passes are of equal size, in blocks of 4 tiles, so that no pass
 * reads every filter matrix for a few rows: VGG16's 37² layer at batch 8
 * went from 7 passes of 113 tiles and one of 9 to 8 of 100, 37.8 → 36.3 ms
 * (alternating, with the matrices spaced by `winogradMatrixFloats`; without
 * that spacing, 100 tiles of 256 channels are 100 KiB apart and it was
 * slower).
 */
export function tilesPerChunk(
  inC: number,
  outC: number,
  total: number,
  positions = 16,
  batched = false,
): number {
  const bytesPerTile = positions * 4 * (inC + outC);
  const least = batched ? 64 : 256;
  const most = Math.min(total, Math.max(least, Math.floor((8 << 20) / bytesPerTile)));
  if (!batched) return most;
  // Passes of equal size, in whole blocks of 4 rows.
  const passes = Math.ceil(total / most);
  return Math.min(total, Math.ceil(total / passes / 4) * 4);
}

let stockConv: tf.KernelConfig | undefined;
let stockFused: tf.KernelConfig | undefined;

/**
 * Routes wasm `Conv2D` and `FusedConv2D` (linear or ReLU) through the
 * Winograd path where {@linkcode winogradPlan} says it applies, first layers
 * (at most 4 input channels) through {@linkcode conv2DFewChannels}; every
 * other case runs the stock kernel. Idempotent.
 */
export function registerWasmWinograd(): void {
  const conv = replaceWasmKernel("Conv2D", (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const plan = winogradPlan(x, filter, args.attrs as never);
    if (!plan) {
      return conv2DFewChannels(
        x,
        filter,
        undefined,
        false,
        args.attrs as never,
        args.backend as never,
      ) ??
        stockConv!.kernelFunc(args);
    }
    return conv2DWinograd(x, filter, undefined, false, plan, args.backend as never);
  });
  stockConv ??= conv;
  const fused = replaceWasmKernel("FusedConv2D", (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<
      string,
      TensorInfo | undefined
    >;
    const activation = (args.attrs as { activation?: string }).activation ?? "linear";
    const biasFits = bias == null || tf.util.sizeFromShape(bias.shape) === filter!.shape[3];
    const fits = preluActivationWeights == null && biasFits &&
      (activation === "linear" || activation === "relu");
    const plan = fits ? winogradPlan(x!, filter!, args.attrs as never) : undefined;
    if (!plan) {
      const relu = activation === "relu";
      const few = fits
        ? conv2DFewChannels(x!, filter!, bias, relu, args.attrs as never, args.backend as never)
        : undefined;
      return few ?? stockFused!.kernelFunc(args);
    }
    return conv2DWinograd(x!, filter!, bias, activation === "relu", plan, args.backend as never);
  });
  stockFused ??= fused;
}
