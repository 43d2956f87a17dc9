/**
 * ReLU's gradient from its output, `y > 0 ? dy : 0`, as one kernel.
 *
 * tfjs computes it as `dy * step(y)`: two passes over memory and a tensor of
 * ones and zeros in between, on one thread. On wasm the SIMD module does it
 * in one pass on every thread (`simd_jobs.ts`); elsewhere the kernel is not
 * registered and {@linkcode reluGradientOf} falls back to tfjs's ops.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WasmBackendLike } from "./kernel_registry.ts";
import { simdKernels } from "./simd_module.ts";
import { reluGradient } from "./simd_jobs.ts";

/** The kernel name. */
export const RELU_GRADIENT_KERNEL = "ConvscopeReluGradient";

/** Registers the kernel on wasm (idempotent). */
export function registerWasmReluGradient(): void {
  if (!tf.getKernel("Multiply", "wasm") || tf.getKernel(RELU_GRADIENT_KERNEL, "wasm")) return;
  tf.registerKernel({
    kernelName: RELU_GRADIENT_KERNEL,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
      const wasm = backend as unknown as WasmBackendLike;
      const out = wasm.makeOutput(y.shape.slice(), "float32");
      try {
        reluGradient(simdKernels(wasm)!, wasm, dy, y, out);
      } catch (error) {
        wasm.disposeData(out.dataId);
        throw error;
      }
      return out;
    },
  });
}

/** `y > 0 ? dy : 0`: the kernel where it runs (wasm with SIMD, float32), tfjs's ops elsewhere. */
export function reluGradientOf(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const backend = tf.getBackend();
  if (
    backend === "wasm" && tf.getKernel(RELU_GRADIENT_KERNEL, "wasm") && dy.dtype === "float32" &&
    y.dtype === "float32" && simdKernels(tf.backend() as unknown as WasmBackendLike)
  ) {
    return tf.engine().runKernel(RELU_GRADIENT_KERNEL, { dy, y }) as tf.Tensor;
  }
  return tf.mul(dy, tf.step(y));
}
