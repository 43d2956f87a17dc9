/**
 * Fast convolution gradients for the tfjs WASM backend.
 *
 * tfjs 4.22 ships `Conv2DBackpropInput` on wasm as a scalar loop (~10× slower
 * than its XNNPACK forward convolution) and no `Conv2DBackpropFilter` at all,
 * so gradient ascent is slow and `model.fit` throws. Both gradients are
 * convolutions themselves; these kernels express them as calls to the
 * backend's own XNNPACK `Conv2D` (and cheap layout kernels), so they inherit
 * its SIMD and threads. The filter gradients of 3×3, stride-1 layers run as
 * convscope's SIMD jobs instead: in the Winograd domain where the channels
 * fill its vectors, as first-layer jobs for pictures, as im2col products
 * elsewhere.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  derivedFrom,
  replaceWasmKernel,
  runWasmKernel as runKernel,
  type Scratch,
  type WasmBackendLike,
  withScratch,
} from "./kernel_registry.ts";
import { heapOffset, type SimdKernels, simdKernels } from "./simd_module.ts";
import { allOnes } from "./_conv_shape.ts";
import {
  fewChannelFilterGradient,
  fewChannelInputGradient,
  type FilterGradientJob,
  winogradFilterGradient,
} from "./simd_jobs.ts";

type TensorInfo = tf.TensorInfo;
type Pad = number | "valid" | "same" | number[][];
type ExplicitPad = [[0, 0], [number, number], [number, number], [0, 0]];

interface Conv2DBackpropInputAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | number[][];
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  inputShape: [number, number, number, number];
}

interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | number[][];
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

function convGeometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: "floor" | "round" | "ceil",
) {
  return tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    1,
    pad as "valid",
    dimRoundingMode,
  );
}

/**
 * Inserts `stride - 1` zeros between the rows and columns of an NHWC tensor,
 * turning a strided convolution's output gradient into a stride-1 problem.
 */
function dilateSpatially(
  scratch: Scratch,
  dy: TensorInfo,
  strideH: number,
  strideW: number,
): TensorInfo {
  if (strideH === 1 && strideW === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const six = scratch.run("Reshape", { x: dy }, { shape: [n, h, 1, w, 1, c] });
  const padded = scratch.run("PadV2", { x: six }, {
    paddings: [[0, 0], [0, 0], [0, strideH - 1], [0, 0], [0, strideW - 1], [0, 0]],
    constantValue: 0,
  });
  const flat = scratch.run("Reshape", { x: padded }, {
    shape: [n, h * strideH, w * strideW, c],
  });
  return scratch.run("Slice", { x: flat }, {
    begin: [0, 0, 0, 0],
    size: [n, (h - 1) * strideH + 1, (w - 1) * strideW + 1, c],
  });
}

/**
 * Crops where a padding is negative (rows that no output depends on) and
 * returns the remaining non-negative explicit padding.
 */
function cropNegativePadding(
  scratch: Scratch,
  x: TensorInfo,
  top: number,
  bottom: number,
  left: number,
  right: number,
): { x: TensorInfo; pad: ExplicitPad } {
  if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) {
    return { x, pad: [[0, 0], [top, bottom], [left, right], [0, 0]] };
  }
  const [n, h, w, c] = x.shape;
  const cropTop = Math.max(0, -top), cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left), cropRight = Math.max(0, -right);
  const cropped = scratch.run("Slice", { x }, {
    begin: [0, cropTop, cropLeft, 0],
    size: [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c],
  });
  return {
    x: cropped,
    pad: [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [
      Math.max(0, left),
      Math.max(0, right),
    ], [0, 0]],
  };
}

let fewChannelPath = true;

/**
 * Runs the input and filter gradients of first layers (at most 4 input
 * channels, 3×3, stride 1) as the SIMD module's own jobs (default) or, off,
 * as every other layer's gradients run. For comparisons and tests.
 */
export function useFewChannelGradients(on: boolean): void {
  fewChannelPath = on;
}

/**
 * The input gradient convolves with the filter flipped in space and with its
 * channel axes swapped. Computing that per call costs more than the
 * convolution for 512-channel layers, and a new filter also makes XNNPACK
 * repack its weights; so the flipped filter is kept while the filter lives.
 */
function flippedFilter(filter: TensorInfo, backend: WasmBackendLike): TensorInfo {
  return derivedFrom(backend, filter, "flipped", () => {
    const simd = simdKernels(backend);
    const [kh, kw, inC, outC] = filter.shape;
    if (simd && kh === 3 && kw === 3 && filter.dtype === "float32") {
      // One pass on the SIMD module: tfjs's Reverse and Transpose took 7 ms
      // for 128 → 128 channels, once per training step.
      const out = backend.makeOutput([3, 3, outC, inC], "float32");
      simd.flipFilter(heapOffset(backend, filter), inC, outC, heapOffset(backend, out));
      return [out];
    }
    const reversed = runKernel("Reverse", backend, { x: filter }, { dims: [0, 1] });
    const swapped = runKernel("Transpose", backend, { x: reversed }, { perm: [0, 1, 3, 2] });
    backend.disposeData(reversed.dataId);
    return [swapped];
  })[0];
}

/**
 * The input gradient of a first layer reading a picture (3×3, stride 1, at
 * most 4 input channels, output channels a multiple of 4) as the SIMD
 * module's job along dy's channels: as a convolution it has 3 output
 * channels, which XNNPACK runs at a fraction of its speed. Undefined where
 * it does not apply or the SIMD module is missing.
 */
export function conv2DBackpropInputFewChannels(
  dy: TensorInfo,
  filter: TensorInfo,
  attrs: Conv2DBackpropInputAttrs,
  backend: WasmBackendLike,
): TensorInfo | undefined {
  const [kh, kw, inC, outC] = filter.shape;
  if (!fewChannelPath || kh !== 3 || kw !== 3 || inC > 4 || outC % 4 !== 0) return undefined;
  if (dy.dtype !== "float32") return undefined;
  const simd = simdKernels(backend);
  if (!simd) return undefined;
  const info = convGeometry(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return undefined;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  return withScratch(backend, (scratch) => {
    const dx = scratch.keep(backend.makeOutput([...attrs.inputShape], "float32"));
    fewChannelInputGradient(simd, backend, {
      dy,
      w: filter,
      dx,
      padTop: info.padInfo.top,
      padLeft: info.padInfo.left,
    });
    return dx;
  });
}

/**
 * dx = conv(zero-dilated, padded dy, filter flipped in space with its channel
 * axes swapped), stride 1: the transposed convolution as a forward one.
 */
export function conv2DBackpropInputViaConv(
  dy: TensorInfo,
  filter: TensorInfo,
  attrs: Conv2DBackpropInputAttrs,
  backend: WasmBackendLike,
): TensorInfo {
  return withScratch(backend, (scratch) => {
    const info = convGeometry(
      attrs.inputShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    const [, inH, inW] = attrs.inputShape;
    const swapped = flippedFilter(filter, backend);
    const dilated = dilateSpatially(scratch, dy, sh, sw);
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    const bottom = inH + kh - 1 - top - dilated.shape[1];
    const right = inW + kw - 1 - left - dilated.shape[2];
    const { x, pad } = cropNegativePadding(scratch, dilated, top, bottom, left, right);
    const dx = runKernel("Conv2D", backend, { x, filter: swapped }, {
      strides: 1,
      pad,
      dataFormat: "NHWC",
      dilations: 1,
      dimRoundingMode: undefined,
    });
    return dx;
  });
}

/**
 * Rows `[begin, begin + count)` along axis 0 or 1 of a float32 tensor: one
 * contiguous block per outer index, copied with `TypedArray.set` (tfjs's
 * wasm `Slice` takes ~50 ms for a block this copies in well under one).
 */
function sliceRows(
  scratch: Scratch,
  x: TensorInfo,
  axis: 0 | 1,
  begin: number,
  count: number,
): TensorInfo {
  const shape = x.shape.slice();
  const outer = axis === 0 ? 1 : shape[0];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const rows = shape[axis];
  shape[axis] = count;
  const out = scratch.keep(scratch.backend.makeOutput(shape, "float32"));
  const src = scratch.backend.typedArrayFromHeap(x);
  const dst = scratch.backend.typedArrayFromHeap(out);
  for (let o = 0; o < outer; o++) {
    const from = (o * rows + begin) * inner;
    dst.set(src.subarray(from, from + count * inner), o * count * inner);
  }
  return out;
}

/**
 * Rows of dy per band in the filter gradient. XNNPACK streams its packed
 * "weights" (here dy) once per tile of output rows; as one call, dy is far
 * larger than the caches, so every tile re-reads it from memory. Bands whose
 * packed strip (rows × Wo × N × 8 floats) stays within ~256 KB keep those
 * re-reads in L2.
 */
export function filterGradientBandRows(outW: number, batch: number, outH: number): number {
  const bytesPerRow = outW * batch * 8 * 4;
  return Math.max(1, Math.min(outH, Math.floor((256 * 1024) / bytesPerRow)));
}

/**
 * dW[p,q,ci,co] = Σ x[n, p + s·i - padTop, q + s·j - padLeft, ci] · dy[n,i,j,co]
 * is a convolution of x (batch and channel axes swapped) with dy used as a
 * filter dilated by the stride; it is summed over bands of dy's rows (see
 * {@linkcode filterGradientBandRows}).
 */
export function conv2DBackpropFilterViaConv(
  x: TensorInfo,
  dy: TensorInfo,
  attrs: Conv2DBackpropFilterAttrs,
  backend: WasmBackendLike,
): TensorInfo {
  return withScratch(backend, (scratch) => {
    const info = convGeometry(
      x.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    const [kh, kw, inC, outC] = attrs.filterShape;
    const [batch, inH, inW] = x.shape;
    const [, outH, outW] = dy.shape;
    const { strideHeight: sh, strideWidth: sw } = info;
    const xT = scratch.run("Transpose", { x }, { perm: [3, 1, 2, 0] }); // [Ci,H,W,N]
    const dyT = scratch.run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho,Wo,N,Co]
    const span = (o: number, s: number) => (o - 1) * s + 1;
    const top = info.padInfo.top, left = info.padInfo.left;
    // Pad so that exactly kh × kw output positions exist; rows past the last
    // one any output reads are cropped rather than padded.
    const bottom = kh - 1 + span(outH, sh) - inH - top;
    const right = kw - 1 + span(outW, sw) - inW - left;
    const cropped = cropNegativePadding(scratch, xT, top, bottom, left, right);
    const [, [padTop, padBottom], [padLeft, padRight]] = cropped.pad;
    // Bands are row ranges of the padded input, so the padding is made explicit once.
    const input = padTop + padBottom + padLeft + padRight === 0
      ? cropped.x
      : scratch.run("PadV2", { x: cropped.x }, { paddings: cropped.pad, constantValue: 0 });
    const rows = filterGradientBandRows(outW, batch, outH);
    let sum: TensorInfo | undefined;
    for (let r0 = 0; r0 < outH; r0 += rows) {
      const r = Math.min(rows, outH - r0);
      const whole = r === outH;
      const band = whole ? input : sliceRows(scratch, input, 1, r0 * sh, span(r, sh) + kh - 1);
      const filter = whole ? dyT : sliceRows(scratch, dyT, 0, r0, r);
      const part = scratch.run("Conv2D", { x: band, filter }, {
        strides: 1,
        pad: "valid",
        dataFormat: "NHWC",
        dilations: [sh, sw],
        dimRoundingMode: undefined,
      }); // [Ci, kh, kw, Co]
      sum = sum ? scratch.run("Add", { a: sum, b: part }, {}) : part;
    }
    const dw = runKernel("Transpose", backend, { x: sum! }, { perm: [1, 2, 0, 3] });
    if (dw.shape.join() !== [kh, kw, inC, outC].join()) {
      backend.disposeData(dw.dataId);
      throw new Error(
        `Conv2DBackpropFilter produced ${dw.shape} instead of ${attrs.filterShape}`,
      );
    }
    return dw;
  });
}

/**
 * A 3×3, stride-1 filter gradient as a SIMD job: the checks both jobs share
 * (float32, stride 1, the module loaded), the forward convolution's padding,
 * and `dw` freed if the job fails. Undefined where it does not apply.
 */
function filterGradientByJob(
  x: TensorInfo,
  dy: TensorInfo,
  attrs: Conv2DBackpropFilterAttrs,
  backend: WasmBackendLike,
  job: (simd: SimdKernels, backend: WasmBackendLike, g: FilterGradientJob) => void,
): TensorInfo | undefined {
  if (x.dtype !== "float32" || dy.dtype !== "float32" || !allOnes(attrs.strides)) return undefined;
  const simd = simdKernels(backend);
  if (!simd) return undefined;
  const info = convGeometry(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return withScratch(backend, (scratch) => {
    const dw = scratch.keep(backend.makeOutput([...attrs.filterShape], "float32"));
    job(simd, backend, { x, dy, dw, padTop: info.padInfo.top, padLeft: info.padInfo.left });
    return dw;
  });
}

/**
 * The filter gradient of a first layer reading a picture (3×3, stride 1,
 * undilated, at most 4 input channels, output channels a multiple of 8) as
 * the SIMD module's job: as a convolution with `dy` as its filter its output
 * is 3×3 (5 GFLOP/s here), as im2col products it has 27 rows. Undefined where
 * it does not apply or the SIMD module is missing.
 */
export function conv2DBackpropFilterFewChannels(
  x: TensorInfo,
  dy: TensorInfo,
  attrs: Conv2DBackpropFilterAttrs,
  backend: WasmBackendLike,
): TensorInfo | undefined {
  const [kh, kw, inC, outC] = attrs.filterShape;
  if (!fewChannelPath || kh !== 3 || kw !== 3 || inC > 4 || outC % 8 !== 0) return undefined;
  return filterGradientByJob(x, dy, attrs, backend, fewChannelFilterGradient);
}

let winogradFilterPath = true;

/**
 * Runs the filter gradients of 3×3, stride-1 layers in the Winograd domain
 * (default) or, off, as transposed-im2col products. For comparisons and tests.
 */
export function useWinogradFilterGradients(on: boolean): void {
  winogradFilterPath = on;
}

/**
 * The filter gradient of a 3×3, stride-1, undilated convolution with input
 * channels a multiple of 4 and output channels a multiple of 8, as the SIMD
 * module's Winograd job: per 2×2 tile of `dy`, 16 multiply-adds per channel
 * pair instead of 36, summed over the batch's tiles by matrix products whose
 * inner axis is every tile. Undefined where it does not apply or the SIMD
 * module is missing.
 */
export function conv2DBackpropFilterWinograd(
  x: TensorInfo,
  dy: TensorInfo,
  attrs: Conv2DBackpropFilterAttrs,
  backend: WasmBackendLike,
): TensorInfo | undefined {
  const [kh, kw, inC, outC] = attrs.filterShape;
  if (!winogradFilterPath || kh !== 3 || kw !== 3 || inC === 0) return undefined;
  if (inC % 4 !== 0 || outC % 8 !== 0) return undefined;
  return filterGradientByJob(x, dy, attrs, backend, winogradFilterGradient);
}

/** Output positions per product of {@linkcode conv2DBackpropFilterIm2col} (its columns: 4 MB). */
export function im2colBlockPositions(inC: number): number {
  return Math.max(512, Math.floor((1 << 20) / (9 * inC)));
}

/**
 * The filter gradient of a 3×3, stride-1, undilated convolution with at
 * least 8 input channels as matrix products: `dW` (`[9·Cin, Cout]`, which is
 * HWIO) is `colsᵀ · dy` summed over blocks of output positions, `colsᵀ` the
 * block's transposed im2col (`[9·Cin, positions]`, made by convscope's SIMD
 * module). Each product has 9·Cin rows, the block's positions as its inner
 * axis and `Cout` columns: shapes XNNPACK's matrix product runs well, unlike
 * the convolution with `dy` as a filter (whose output is only 3×3).
 * Undefined where it does not apply or the SIMD module is missing.
 */
export function conv2DBackpropFilterIm2col(
  x: TensorInfo,
  dy: TensorInfo,
  attrs: Conv2DBackpropFilterAttrs,
  backend: WasmBackendLike,
): TensorInfo | undefined {
  const [kh, kw, inC, outC] = attrs.filterShape;
  if (kh !== 3 || kw !== 3 || inC < 8 || !allOnes(attrs.strides)) return undefined;
  if (x.dtype !== "float32" || dy.dtype !== "float32") return undefined;
  const simd = simdKernels(backend);
  if (!simd) return undefined;
  const info = convGeometry(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [batch, inH, inW] = x.shape;
  const [, outH, outW] = dy.shape;
  const positions = batch * outH * outW;
  const block = Math.min(positions, im2colBlockPositions(inC));
  const rows = 9 * inC;
  const sum = new Float32Array(rows * outC);
  const dys = backend.typedArrayFromHeap(dy);
  const temporary: TensorInfo[] = [];
  try {
    for (let first = 0; first < positions; first += block) {
      const count = Math.min(block, positions - first);
      const cols = backend.makeOutput([1, rows, count], "float32");
      temporary.push(cols);
      simd.im2col3x3Transposed(
        heapOffset(backend, x),
        inH,
        inW,
        inC,
        info.padInfo.top,
        info.padInfo.left,
        outH,
        outW,
        first,
        count,
        heapOffset(backend, cols),
      );
      const part = backend.makeOutput([1, count, outC], "float32");
      temporary.push(part);
      backend.typedArrayFromHeap(part).set(dys.subarray(first * outC, (first + count) * outC));
      const product = runKernel("BatchMatMul", backend, { a: cols, b: part }, {
        transposeA: false,
        transposeB: false,
      });
      temporary.push(product);
      const values = backend.typedArrayFromHeap(product);
      for (let i = 0; i < values.length; i++) sum[i] += values[i];
      for (const t of temporary.splice(0)) backend.disposeData(t.dataId);
    }
  } finally {
    for (const t of temporary) backend.disposeData(t.dataId);
  }
  const dw = backend.makeOutput([3, 3, inC, outC], "float32");
  backend.typedArrayFromHeap(dw).set(sum);
  return dw;
}

let stockBackpropInput: tf.KernelConfig | undefined;

/**
 * Registers the fast gradient kernels on the `wasm` backend (idempotent);
 * `{ input: false }` keeps tfjs's stock input gradient.
 * NCHW inputs, the only case these kernels do not handle, go to the stock
 * kernel (input) or fail with a clear message (filter, which tfjs lacks).
 */
export function registerWasmConvGradients(which: { input?: boolean } = {}): void {
  replaceWasmKernel("Conv2DBackpropFilter", ({ inputs, attrs, backend }) => {
    const a = attrs as unknown as Conv2DBackpropFilterAttrs;
    if (a.dataFormat === "NCHW") {
      throw new Error("convscope: Conv2DBackpropFilter on wasm supports channels-last (NHWC) only");
    }
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    return conv2DBackpropFilterFewChannels(x, dy, a, backend as WasmBackendLike) ??
      conv2DBackpropFilterWinograd(x, dy, a, backend as WasmBackendLike) ??
      conv2DBackpropFilterIm2col(x, dy, a, backend as WasmBackendLike) ??
      conv2DBackpropFilterViaConv(x, dy, a, backend as WasmBackendLike);
  });
  if (which.input === false) return;
  const replaced = replaceWasmKernel("Conv2DBackpropInput", ({ inputs, attrs, backend }) => {
    const a = attrs as unknown as Conv2DBackpropInputAttrs;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    if (a.dataFormat === "NCHW" && stockBackpropInput) {
      return stockBackpropInput.kernelFunc({ inputs, attrs, backend });
    }
    return conv2DBackpropInputFewChannels(dy, filter, a, backend as WasmBackendLike) ??
      conv2DBackpropInputViaConv(dy, filter, a, backend as WasmBackendLike);
  });
  stockBackpropInput ??= replaced;
}
