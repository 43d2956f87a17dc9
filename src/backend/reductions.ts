/**
 * `Sum` over every axis but the last on the tfjs WASM backend: the bias
 * gradient of every convolution and dense layer. The stock kernel first
 * transposes the whole tensor so the reduced axes come last (a full copy of
 * e.g. 32×148×148×32 values); summing rows in place is several times
 * faster, and as convscope's SIMD job on the job threads faster again (that
 * tensor in a training step: 17 ms as a loop in JS, 2.8 ms as the job).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { replaceWasmKernel, type WasmBackendLike, withScratch } from "./kernel_registry.ts";
import { simdKernels } from "./simd_module.ts";
import { columnSums } from "./simd_jobs.ts";

let stock: tf.KernelConfig | undefined;

/**
 * Column sums of a float32 tensor viewed as `[rows, channels]`: the SIMD
 * job, or without the SIMD module a loop accumulating in float64.
 */
export function sumLeadingAxes(
  x: tf.TensorInfo,
  keepDims: boolean,
  backend: WasmBackendLike,
): tf.TensorInfo {
  const channels = x.shape.at(-1)!;
  const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const shape = keepDims ? [...x.shape.slice(0, -1).map(() => 1), channels] : [channels];
  const simd = simdKernels(backend);
  if (simd) {
    return withScratch(backend, (scratch) => {
      const out = scratch.keep(backend.makeOutput(shape, "float32"));
      columnSums(simd, backend, x, out);
      return out;
    });
  }
  const out = backend.makeOutput(shape, "float32");
  const values = backend.typedArrayFromHeap(x);
  const acc = new Float64Array(channels);
  for (let r = 0, o = 0; r < rows; r++, o += channels) {
    for (let c = 0; c < channels; c++) acc[c] += values[o + c];
  }
  backend.typedArrayFromHeap(out).set(acc);
  return out;
}

/** Registers the row-summing `Sum` on wasm (idempotent); other reductions use the stock kernel. */
export function registerWasmReductions(): void {
  const replaced = replaceWasmKernel("Sum", ({ inputs, attrs, backend }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = rank >= 2 && axes.length === rank - 1 && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== "float32") return stock!.kernelFunc({ inputs, attrs, backend });
    return sumLeadingAxes(x, keepDims, backend as unknown as WasmBackendLike);
  });
  stock ??= replaced;
}
