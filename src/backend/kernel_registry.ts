/**
 * Replacing tfjs kernels (on wasm, and a few on webgpu), and the small
 * pieces every replacement shares: calling other kernels, freeing intermediates, and
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
 * Registers `kernelFunc` as `backendName`'s kernel `kernelName` unless
 * convscope's is already there; returns the kernel it replaced (for
 * fallbacks), if any.
 */
export function replaceKernel(
  kernelName: string,
  backendName: string,
  kernelFunc: tf.KernelFunc,
): tf.KernelConfig | undefined {
  const key = `${backendName}:${kernelName}`;
  const current = tf.getKernel(kernelName, backendName) as Marked | undefined;
  if (current?.convscope) return stockKernels.get(key);
  if (current) {
    tf.unregisterKernel(kernelName, backendName);
    stockKernels.set(key, current);
  }
  // The stock kernel binds its backend function in setupFunc when the backend
  // starts; keeping it lets the replacement fall back to that kernel.
  const config: Marked = {
    kernelName,
    backendName,
    kernelFunc,
    ...(current?.setupFunc ? { setupFunc: current.setupFunc } : {}),
    convscope: true,
  };
  tf.registerKernel(config);
  return current;
}

/** {@linkcode replaceKernel} on the wasm backend. */
export function replaceWasmKernel(
  kernelName: string,
  kernelFunc: tf.KernelFunc,
): tf.KernelConfig | undefined {
  return replaceKernel(kernelName, "wasm", kernelFunc);
}

/** tfjs's own kernels that convscope replaced, by `backend:name`. */
const stockKernels = new Map<string, tf.KernelConfig>();

/**
 * Puts tfjs's own wasm kernels back wherever convscope replaced one (kernels
 * tfjs lacks, such as the filter gradient, stay).
 */
export function restoreStockWasmKernels(): void {
  for (const [key, stock] of stockKernels) {
    if (stock.backendName !== "wasm") continue;
    const current = tf.getKernel(stock.kernelName, "wasm") as Marked | undefined;
    if (current?.convscope) tf.unregisterKernel(stock.kernelName, "wasm");
    tf.registerKernel(stock);
    stockKernels.delete(key);
  }
}

/** What {@linkcode Scratch} needs of a backend: freeing data. */
export interface DisposingBackend {
  disposeData(dataId: unknown, force?: boolean): boolean;
}

/** Calls a kernel (by default the one registered for `backendName`, wasm) directly, without the engine. */
export function runWasmKernel(
  name: string,
  backend: DisposingBackend,
  inputs: Record<string, tf.TensorInfo>,
  attrs: Record<string, unknown>,
  kernel: tf.KernelConfig | undefined = tf.getKernel(name, "wasm"),
): tf.TensorInfo {
  if (kernel == null) throw new Error(`kernel ${name} is not registered`);
  return kernel.kernelFunc({
    inputs,
    // deno-lint-ignore no-explicit-any
    backend: backend as any,
    attrs: attrs as tf.NamedAttrMap,
  }) as tf.TensorInfo;
}

/** Intermediate tensors made inside a kernel, freed together when it returns. */
export class Scratch<B extends DisposingBackend = WasmBackendLike> {
  #infos: tf.TensorInfo[] = [];
  constructor(readonly backend: B, readonly backendName = "wasm") {}
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
    return this.keep(
      runWasmKernel(
        name,
        this.backend,
        inputs,
        attrs,
        kernel ?? tf.getKernel(name, this.backendName),
      ),
    );
  }
  /** Frees everything but `result` (which may share a data id with a reshape); everything without one. */
  release(result?: tf.TensorInfo): void {
    for (const info of this.#infos) {
      if (info.dataId !== result?.dataId) this.backend.disposeData(info.dataId);
    }
    this.#infos = [];
  }
}

/**
 * Runs a kernel body with a {@linkcode Scratch} that is freed when it ends,
 * also when it throws: an error mid-kernel leaves nothing on the WASM heap.
 */
export function withScratch<B extends DisposingBackend = WasmBackendLike>(
  backend: B,
  body: (scratch: Scratch<B>) => tf.TensorInfo,
  backendName = "wasm",
): tf.TensorInfo {
  const scratch = new Scratch(backend, backendName);
  let result: tf.TensorInfo | undefined;
  try {
    result = body(scratch);
    return result;
  } finally {
    scratch.release(result);
  }
}

/**
 * Tensors computed once from another tensor's data (a flipped or
 * Winograd-transformed filter), kept while that tensor lives and freed with
 * it. Keeping them also keeps XNNPACK's packed weights, which are cached per
 * buffer.
 */
const derived = new Map<unknown, Map<string, tf.TensorInfo[]>>();
const patchedBackends = new WeakSet<object>();

function freeDerivedWithSource(backend: WasmBackendLike): void {
  if (patchedBackends.has(backend)) return;
  patchedBackends.add(backend);
  const dispose = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: unknown, force?: boolean) => {
    const freed = dispose(dataId, force);
    const kinds = derived.get(dataId);
    if (freed && kinds) {
      derived.delete(dataId);
      // Through the patched method, so that data derived from derived data goes too.
      for (const infos of kinds.values()) {
        for (const info of infos) backend.disposeData(info.dataId, true);
      }
    }
    return freed;
  };
}

/** The tensors `make` derives from `source` (as `kind`), computed on first use. */
export function derivedFrom(
  backend: WasmBackendLike,
  source: tf.TensorInfo,
  kind: string,
  make: () => tf.TensorInfo[],
): tf.TensorInfo[] {
  const hit = derived.get(source.dataId)?.get(kind);
  if (hit) return hit;
  freeDerivedWithSource(backend);
  const made = make();
  let kinds = derived.get(source.dataId);
  if (!kinds) derived.set(source.dataId, kinds = new Map());
  kinds.set(kind, made);
  return made;
}

/** Source tensors with derived data currently kept (for leak tests). */
export function tensorsWithDerivedData(): number {
  return derived.size;
}
