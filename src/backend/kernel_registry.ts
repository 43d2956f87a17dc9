/**
 * Replacing tfjs kernels on the wasm backend, once: the shared step of every
 * kernel convscope contributes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

type Marked = tf.KernelConfig & { convscope?: true };

/**
 * Registers `kernelFunc` as the wasm kernel `kernelName` unless convscope's
 * is already there; returns the kernel it replaced (for fallbacks), if any.
 */
export function replaceWasmKernel(
  kernelName: string,
  kernelFunc: tf.KernelFunc,
): tf.KernelConfig | undefined {
  const current = tf.getKernel(kernelName, "wasm") as Marked | undefined;
  if (current?.convscope) return undefined;
  if (current) tf.unregisterKernel(kernelName, "wasm");
  const config: Marked = { kernelName, backendName: "wasm", kernelFunc, convscope: true };
  tf.registerKernel(config);
  return current;
}
