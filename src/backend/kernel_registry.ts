/**
 * Replacing tfjs kernels on the wasm backend, and the small pieces every
 * replacement shares: calling other kernels, freeing intermediates, and
 * reading and writing tensors on the WASM heap.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

type Marked = tf.KernelConfig & { convscope?: true };

/** The parts of tfjs's wasm backend the kernels use. */
export interface WasmBackendLike {
  disposeData(dataId: unknown, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  incRef(dataId: unknown): void;
}

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
  // The stock kernel binds its WASM function in setupFunc when the backend
  // starts; keeping it lets the replacement fall back to that kernel.
  const config: Marked = {
    kernelName,
    backendName: "wasm",
    kernelFunc,
    ...(current?.setupFunc ? { setupFunc: current.setupFunc } : {}),
    convscope: true,
  };
  tf.registerKernel(config);
  return current;
}

/** Calls a kernel (by default the registered wasm one) directly, without the engine. */
export function runWasmKernel(
  name: string,
  backend: WasmBackendLike,
  inputs: Record<string, tf.TensorInfo>,
  attrs: Record<string, unknown>,
  kernel: tf.KernelConfig | undefined = tf.getKernel(name, "wasm"),
): tf.TensorInfo {
  if (kernel == null) throw new Error(`wasm kernel ${name} is not registered`);
  return kernel.kernelFunc({
    inputs,
    // deno-lint-ignore no-explicit-any
    backend: backend as any,
    attrs: attrs as tf.NamedAttrMap,
  }) as tf.TensorInfo;
}

/** Intermediate tensors made inside a kernel, freed together when it returns. */
export class Scratch {
  #infos: tf.TensorInfo[] = [];
  constructor(readonly backend: WasmBackendLike) {}
  keep(info: tf.TensorInfo): tf.TensorInfo {
    this.#infos.push(info);
    return info;
  }
  run(
    name: string,
    inputs: Record<string, tf.TensorInfo>,
    attrs: Record<string, unknown>,
    kernel?: tf.KernelConfig,
  ): tf.TensorInfo {
    return this.keep(runWasmKernel(name, this.backend, inputs, attrs, kernel));
  }
  /** Frees everything but `result` (which may share a data id with a reshape). */
  release(result: tf.TensorInfo): void {
    for (const info of this.#infos) {
      if (info.dataId !== result.dataId) this.backend.disposeData(info.dataId);
    }
    this.#infos = [];
  }
}
