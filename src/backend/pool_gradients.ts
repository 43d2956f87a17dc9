/**
 * Max-pooling gradient for the tfjs WASM backend, computed directly on the
 * WASM heap. The stock wasm `MaxPoolGrad` takes ~20 ns per input value,
 * about as long as a 64-channel convolution's gradient at the same size. The
 * 2×2, stride-2 case of every pooling layer in the book's models runs in
 * convscope's SIMD module (`simd_module.ts`), other cases in a
 * channel-innermost JS loop; both give the same result as the cpu backend
 * (ties go to the first maximum in scan order).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { replaceWasmKernel, type WasmBackendLike } from "./kernel_registry.ts";
import { heapOffset, simdKernels } from "./simd_module.ts";

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: "valid" | "same" | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** dx for an NHWC max pooling of `x` whose output gradient is `dy`. */
export function maxPoolGradOnHeap(
  dy: tf.TensorInfo,
  x: tf.TensorInfo,
  attrs: MaxPoolGradAttrs,
  backend: WasmBackendLike,
): tf.TensorInfo {
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [batch, inH, inW, channels] = x.shape;
  const { outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const padTop = info.padInfo.top, padLeft = info.padInfo.left;
  const out = backend.makeOutput(x.shape.slice(), "float32");
  const dx = backend.typedArrayFromHeap(out);
  const xs = backend.typedArrayFromHeap(x);
  const dys = backend.typedArrayFromHeap(dy);
  if (
    filterHeight === 2 && filterWidth === 2 && strideHeight === 2 && strideWidth === 2 &&
    padTop === 0 && padLeft === 0
  ) {
    const simd = simdKernels(backend);
    if (simd) {
      // Rows and columns past the last full window get no gradient.
      if (outHeight * 2 !== inH || outWidth * 2 !== inW) dx.fill(0);
      const at = (info: tf.TensorInfo) => heapOffset(backend, info);
      simd.maxPoolGrad2x2(at(x), at(dy), at(out), batch, inH, inW, channels, outHeight, outWidth);
    } else {
      routeTwoByTwo(xs, dys, dx, batch, inH, inW, channels, outHeight, outWidth);
    }
    return out;
  }
  dx.fill(0);
  const best = new Float32Array(channels);
  const where = new Int32Array(channels);
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - padTop;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - padLeft;
        best.fill(-Infinity);
        where.fill(-1);
        for (let ky = 0; ky < filterHeight; ky++) {
          const yy = y0 + ky;
          if (yy < 0 || yy >= inH) continue;
          for (let kx = 0; kx < filterWidth; kx++) {
            const xx = x0 + kx;
            if (xx < 0 || xx >= inW) continue;
            const base = ((b * inH + yy) * inW + xx) * channels;
            for (let c = 0; c < channels; c++) {
              const v = xs[base + c];
              if (v > best[c] || where[c] < 0) {
                best[c] = v;
                where[c] = base + c;
              }
            }
          }
        }
        const o = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let c = 0; c < channels; c++) {
          if (where[c] >= 0) dx[where[c]] += dys[o + c];
        }
      }
    }
  }
  return out;
}

/**
 * The 2×2, stride-2 unpadded case (every pooling layer of the book's models):
 * windows do not overlap, so each input value receives either its window's
 * gradient or zero, and the four candidates are compared directly.
 */
function routeTwoByTwo(
  xs: Float32Array,
  dys: Float32Array,
  dx: Float32Array,
  batch: number,
  inH: number,
  inW: number,
  channels: number,
  outHeight: number,
  outWidth: number,
): void {
  // Rows and columns past the last full window get no gradient.
  if (outHeight * 2 !== inH || outWidth * 2 !== inW) dx.fill(0);
  const row = inW * channels;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const p00 = ((b * inH + 2 * oy) * inW + 2 * ox) * channels;
        const p01 = p00 + channels, p10 = p00 + row, p11 = p10 + channels;
        const o = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let c = 0; c < channels; c++) {
          const v00 = xs[p00 + c], v01 = xs[p01 + c], v10 = xs[p10 + c], v11 = xs[p11 + c];
          // Ties go to the first maximum in scan order, as on the cpu backend.
          let best = v00, at = 0;
          if (v01 > best) {
            best = v01;
            at = 1;
          }
          if (v10 > best) {
            best = v10;
            at = 2;
          }
          if (v11 > best) at = 3;
          const g = dys[o + c];
          dx[p00 + c] = at === 0 ? g : 0;
          dx[p01 + c] = at === 1 ? g : 0;
          dx[p10 + c] = at === 2 ? g : 0;
          dx[p11 + c] = at === 3 ? g : 0;
        }
      }
    }
  }
}

/** Registers the faster `MaxPoolGrad` on wasm (idempotent). */
export function registerWasmPoolGradients(): void {
  replaceWasmKernel("MaxPoolGrad", ({ inputs, attrs, backend }) => {
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    return maxPoolGradOnHeap(
      dy,
      input,
      attrs as unknown as MaxPoolGradAttrs,
      backend as unknown as WasmBackendLike,
    );
  });
}
