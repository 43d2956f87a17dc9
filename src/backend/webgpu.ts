/**
 * Starting TensorFlow.js's WebGPU backend in Deno, and what sets it apart
 * from WASM: GPU memory cannot be read synchronously here (tfjs reads it
 * through a 2-D `OffscreenCanvas`, which Deno lacks), and one storage
 * binding holds 128 MiB on many drivers.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The GPU adapter WebGPU computes on, as its driver describes it. */
export interface GpuAdapterInfo {
  /** The vendor, as the driver names it (a PCI id on some drivers). */
  vendor: string;
  /** The GPU family, e.g. `"ampere"`; often empty. */
  architecture: string;
  /** The device, as the driver names it (often empty). */
  device: string;
  /** A human-readable name, e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"`. */
  description: string;
  /**
   * A CPU rasteriser standing in for a GPU (Mesa's llvmpipe/lavapipe,
   * SwiftShader, WARP): correct, and slower than WASM.
   */
  software: boolean;
  /** Largest buffer one shader may bind, in bytes. */
  maxBindingBytes: number;
}

const SOFTWARE_DRIVERS = /llvmpipe|lavapipe|swiftshader|softpipe|warp|basic render/i;

/**
 * Asks the runtime for a WebGPU adapter; `undefined`, with the reason, when
 * there is none. Bounded in time: a broken driver stack must not hang
 * `initBackend`.
 *
 * @example
 * ```ts
 * import { requestGpuAdapter } from "./webgpu.ts";
 * const found = await requestGpuAdapter();
 * console.log(found.info ?? found.reason); // e.g. { vendor: "…", software: true, … }
 * ```
 */
export async function requestGpuAdapter(
  timeoutMs = 15_000,
): Promise<{ info?: GpuAdapterInfo; reason?: string }> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return { reason: "this runtime has no navigator.gpu" };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const adapter = await Promise.race([
      gpu.requestAdapter({ powerPreference: "high-performance" }),
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      }),
    ]);
    if (adapter === "timeout") {
      return { reason: `no WebGPU adapter answered within ${timeoutMs / 1000} s` };
    }
    if (!adapter) {
      return {
        reason: "no WebGPU adapter (no Vulkan, Metal or D3D12 driver was found; " +
          "on Debian, `apt-get install mesa-vulkan-drivers` gives a software one)",
      };
    }
    const info = adapter.info;
    const description = info.description ?? "";
    return {
      info: {
        vendor: info.vendor ?? "",
        architecture: info.architecture ?? "",
        device: info.device ?? "",
        description,
        software: (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
          (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
          SOFTWARE_DRIVERS.test(`${description} ${info.vendor} ${info.architecture}`),
        maxBindingBytes: adapter.limits.maxStorageBufferBindingSize,
      },
    };
  } catch (error) {
    return { reason: `requesting a WebGPU adapter failed: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The largest buffer one shader may bind on the running webgpu backend (or
 * the one given), in bytes; `undefined` on other backends.
 *
 * @example
 * ```ts
 * import { initBackend } from "convscope";
 * import { storageBindingBytes } from "./webgpu.ts";
 * await initBackend();
 * console.log(storageBindingBytes()); // undefined on wasm
 * ```
 */
export function storageBindingBytes(backend: object = tf.backend()): number | undefined {
  return (backend as { device?: { limits: { maxStorageBufferBindingSize: number } } }).device
    ?.limits.maxStorageBufferBindingSize;
}

/** Tensors up to this many elements keep their values on the CPU after upload (`adaptWebGpuBackend`). */
const KEEP_ON_CPU_ELEMENTS = 4 * 1024 * 1024;

interface WebGpuTensorData {
  values: unknown;
  dtype: tf.DataType;
  shape: number[];
  complexTensorInfos?: unknown;
}
interface WebGpuBackend {
  tensorMap: { get(dataId: object): WebGpuTensorData };
  readSync(dataId: object): unknown;
  uploadToGPU(dataId: object): void;
  shouldExecuteOnCPU(inputs: tf.TensorInfo[], sizeThreshold?: number): boolean;
}

const patched = new WeakSet<object>();

/**
 * Makes a webgpu backend instance fit Deno (idempotent):
 * - a synchronous read of values that are only on the GPU throws an error
 *   that says what to do, instead of tfjs's `TypeError` from a missing canvas;
 * - tensors made from values (pictures, small weights) keep their values
 *   after the upload, so that a picture that went through a model can still
 *   be drawn. tfjs tensors are immutable, so the copy cannot go stale;
 * - kernels that tfjs can forward to its CPU implementations (slices,
 *   transposes, element-wise and reduction ops) run there when every input's
 *   values are on the CPU, so that `tf.slice(activation, …)` of a result
 *   already read can be drawn at once, as on wasm.
 */
export function adaptWebGpuBackend(backend: object): void {
  if (patched.has(backend)) return;
  patched.add(backend);
  const gpu = backend as WebGpuBackend;
  const stockRead = gpu.readSync.bind(gpu);
  gpu.readSync = (dataId) => {
    const data = gpu.tensorMap.get(dataId);
    if (data.values == null && data.dtype !== "string" && data.complexTensorInfos == null) {
      throw new Error(
        `convscope: a [${data.shape}] tensor's values are still on the GPU, and Deno cannot ` +
          "read GPU memory synchronously. Read it with `await tensor.data()` or " +
          "`await readBack(tensor)` first; convscope's own methods return tensors already read.",
      );
    }
    return stockRead(dataId);
  };
  const stockForward = gpu.shouldExecuteOnCPU.bind(gpu);
  gpu.shouldExecuteOnCPU = (inputs, sizeThreshold) =>
    stockForward(inputs, sizeThreshold) ||
    (inputs.length > 0 && inputs.every((input) =>
      gpu.tensorMap.get(input.dataId).values != null &&
      tf.util.sizeFromShape(input.shape) <= KEEP_ON_CPU_ELEMENTS
    ));
  const stockUpload = gpu.uploadToGPU.bind(gpu);
  gpu.uploadToGPU = (dataId) => {
    const data = gpu.tensorMap.get(dataId);
    const values = data.values;
    const size = tf.util.sizeFromShape(data.shape);
    const bytes = 4 * size;
    const limit = storageBindingBytes(gpu)!;
    if (values != null && bytes > limit) {
      // Bound whole, it would read as zeros. Matrix products split it
      // (webgpu_matmul.ts) from these values, which stay on the CPU.
      throw new Error(
        `convscope: a [${data.shape}] tensor (${(bytes / 2 ** 20).toFixed(0)} MiB) is larger ` +
          `than one WebGPU storage binding on this adapter (${limit / 2 ** 20} MiB); only ` +
          "matrix products (Dense layers) can use it here: run this on the wasm backend",
      );
    }
    stockUpload(dataId);
    if (values != null && size <= KEEP_ON_CPU_ELEMENTS) {
      data.values = values;
    }
  };
}

/**
 * Whether the running backend can read a tensor's values synchronously
 * (`dataSync`); on webgpu only values already brought back can be.
 *
 * @example
 * ```ts
 * import { initBackend } from "convscope";
 * import { readsSynchronously } from "./webgpu.ts";
 * await initBackend();
 * console.log(readsSynchronously()); // true on wasm and cpu
 * ```
 */
export function readsSynchronously(): boolean {
  return tf.getBackend() !== "webgpu";
}
