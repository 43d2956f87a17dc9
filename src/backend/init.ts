/**
 * Starting TensorFlow.js on the backend convscope computes with.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as wasm from "@tensorflow/tfjs-backend-wasm";
import os from "node:os";
import { withThreadedWasmPatches } from "./threads.ts";
import { registerWasmConvGradients } from "./conv_gradients.ts";
import { registerWasmPoolGradients } from "./pool_gradients.ts";
import { registerWasmSharedIdentity } from "./shared_identity.ts";
import { registerWasmMatMul } from "./matmul.ts";
import { registerWasmReluGradient } from "./relu_gradient.ts";
import { useFastHeapReads } from "./fast_read.ts";
import { useFusedConvGradients } from "./fused_conv_grad.ts";
import { registerWasmReductions } from "./reductions.ts";
import { registerWasmWinograd, setWinogradConvolutions } from "./winograd.ts";
import { restoreStockWasmKernels } from "./kernel_registry.ts";
import { registerWebGpuMatMul } from "./webgpu_matmul.ts";
import { registerWebGpuFilterGradient } from "./webgpu_conv_gradients.ts";
import { adaptWebGpuBackend, type GpuAdapterInfo, requestGpuAdapter } from "./webgpu.ts";

/** What {@linkcode initBackend} actually got, which may be less than it was asked for. */
export interface BackendInfo {
  /** The active tfjs backend. */
  backend: "wasm" | "cpu" | "webgpu";
  /** Whether WASM SIMD is in use (false on `cpu` and `webgpu`). */
  simd: boolean;
  /** Threads XNNPACK runs on, as the backend itself reports (1 on `cpu` and `webgpu`). */
  threads: number;
  /** The GPU adapter, on `webgpu` (and on `auto` when one was found but not used). */
  gpu?: GpuAdapterInfo;
  /** Why less than asked runs (fewer threads, `auto` keeping WASM), when that happens. */
  note?: string;
}

let current: { key: string; info: BackendInfo } | undefined;

/** tfjs's cpu backend greets Node-like runtimes with advice about tfjs-node; convscope does not need it. */
function silenceCpuBanner(): void {
  const cpu = tf.engine().findBackend("cpu") as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}
let wasmStarted = false;

/** Registers convscope's wasm kernels, or puts tfjs's own back (the filter gradient, which tfjs lacks, always stays). */
function useFastKernels(fast: boolean): void {
  if (!fast) restoreStockWasmKernels();
  registerWasmConvGradients({ input: fast });
  useFusedConvGradients(fast ? ["wasm"] : []);
  if (fast) {
    registerWasmPoolGradients();
    registerWasmSharedIdentity();
    registerWasmMatMul();
    registerWasmReductions();
    registerWasmWinograd();
    registerWasmReluGradient();
  }
}

/**
 * Starts tfjs on the WASM backend with SIMD and threads (or on `cpu`) and
 * returns what it got. Idempotent: the same options return the same info
 * without restarting. Asking for another thread count after the wasm backend
 * started keeps the running one and says so in `note`, because emscripten
 * cannot restart its thread pool within one process.
 *
 * @example
 * ```ts
 * import { initBackend } from "convscope";
 * const info = await initBackend();
 * console.log(info); // { backend: "wasm", simd: true, threads: 2 }
 * ```
 */
export async function initBackend(
  options: {
    /**
     * `"wasm"` (default): WebAssembly with SIMD, XNNPACK and threads.
     * `"webgpu"`: the GPU through Deno's WebGPU (an error says why when there
     * is none). `"auto"`: webgpu when the adapter is a hardware GPU, wasm
     * otherwise (a software driver is slower than WASM). `"cpu"`: plain JS
     * reference.
     */
    backend?: "wasm" | "cpu" | "webgpu" | "auto";
    /** Threads for the wasm backend; default: every logical core. `1` uses the single-thread SIMD build. */
    threads?: number;
    /**
     * Use convscope's faster wasm kernels (default true): the XNNPACK-based
     * `Conv2DBackpropInput`, `MaxPoolGrad`, transposed `BatchMatMul`, bias
     * gradient `Sum`, zero-copy `Identity`, heap reads, and Conv2D layers
     * fused with their bias and ReLU while gradients are recorded. `false` keeps
     * tfjs's stock kernels, for comparisons; the filter gradient, which tfjs
     * lacks on wasm, is always registered.
     */
    fastInputGradient?: boolean;
    /**
     * Run 3×3 stride-1 convolutions with enough channels (and their input
     * gradients) by Winograd's F(4×4, 3×3) or F(2×2, 3×3) on XNNPACK's matrix
     * product (default true; needs `fastInputGradient`). Results differ from
     * the direct convolution by float rounding only (F(4×4): ≤ 2.6e-6 of the
     * largest output against float64 on the book convnet, the direct kernel
     * ≤ 6e-7). Can be switched at any time.
     */
    winograd?: boolean;
  } = {},
): Promise<BackendInfo> {
  const asked = options.backend ?? "wasm";
  const threadsWanted = asked === "cpu"
    ? 1
    : Math.max(1, Math.floor(options.threads ?? os.cpus().length));
  const key = `${asked}:${threadsWanted}:${options.fastInputGradient ?? true}:${
    options.winograd ?? true
  }`;
  if (current?.key === key && tf.getBackend() === current.info.backend) return current.info;
  let gpuNote: { note: string; gpu?: GpuAdapterInfo } | undefined;
  if (asked === "webgpu" || asked === "auto") {
    const found = await requestGpuAdapter();
    if (asked === "webgpu" && !found.info) {
      throw new Error(`convscope: WebGPU is unavailable: ${found.reason}`);
    }
    if (found.info && (asked === "webgpu" || !found.info.software)) {
      const info = await startWebGpu(found.info);
      current = { key, info };
      return info;
    }
    gpuNote = found.info
      ? {
        note: `auto: the WebGPU adapter is a software driver (${found.info.description}), ` +
          "slower than WASM; running on wasm",
        gpu: found.info,
      }
      : { note: `auto: ${found.reason}; running on wasm` };
  }
  const info = await startCpuOrWasm(asked === "cpu" ? "cpu" : "wasm", threadsWanted, options);
  current = {
    key,
    info: gpuNote
      ? {
        ...info,
        ...(gpuNote.gpu ? { gpu: gpuNote.gpu } : {}),
        note: info.note ? `${gpuNote.note}; ${info.note}` : gpuNote.note,
      }
      : info,
  };
  return current.info;
}

/** Starts tfjs's webgpu backend (loaded only when asked for) on an adapter already found. */
async function startWebGpu(gpu: GpuAdapterInfo): Promise<BackendInfo> {
  setWinogradConvolutions(false);
  if (tf.engine().registryFactory["webgpu"] == null) {
    await import("@tensorflow/tfjs-backend-webgpu");
  }
  silenceCpuBanner();
  // Figures read on the cpu backend (see `onCpuWhenNeeded`): start it now.
  tf.engine().findBackend("cpu");
  silenceCpuBanner();
  let started = false;
  try {
    started = await tf.setBackend("webgpu");
  } catch (error) {
    throw new Error(`convscope: the webgpu backend failed to start: ${(error as Error).message}`);
  }
  if (!started || tf.getBackend() !== "webgpu") {
    throw new Error(
      `convscope: the webgpu backend failed to start on ${gpu.description || gpu.vendor}`,
    );
  }
  adaptWebGpuBackend(tf.backend());
  registerWebGpuMatMul();
  registerWebGpuFilterGradient();
  return { backend: "webgpu", simd: false, threads: 1, gpu };
}

async function startCpuOrWasm(
  backend: "wasm" | "cpu",
  wanted: number,
  options: { fastInputGradient?: boolean; winograd?: boolean },
): Promise<BackendInfo> {
  const fast = options.fastInputGradient ?? true;
  silenceCpuBanner();
  setWinogradConvolutions((options.winograd ?? true) && fast);
  // Every call ends in the kernel set it asks for, whatever came before.
  useFastKernels(fast);
  if (backend === "cpu") {
    await tf.setBackend("cpu");
    await tf.ready();
    return { backend: "cpu", simd: false, threads: 1 };
  }
  if (tf.engine().registry["wasm"] != null && wasmStarted) {
    // The wasm module is already running with its thread pool: reuse it.
    await tf.setBackend("wasm");
    if (fast) useFastHeapReads(tf.backend());
    const threads = wasm.getThreadsCount();
    const info: BackendInfo = {
      backend: "wasm",
      simd: await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") as boolean,
      threads,
      ...(threads !== wanted
        ? {
          note:
            `wasm backend already running with ${threads} thread(s); restart the process to change it`,
        }
        : {}),
    };
    return info;
  }
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") as boolean;
  let note: string | undefined;
  if (wanted > 1 && simd) {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
    wasm.setThreadsCount(wanted);
    try {
      await withThreadedWasmPatches(wanted, () => tf.setBackend("wasm"));
    } catch (error) {
      note = `threads could not start (${(error as Error).message}); running single-threaded SIMD`;
    }
    if (tf.getBackend() !== "wasm") {
      note ??= "threaded wasm backend failed to start; running single-threaded SIMD";
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
      wasm.setThreadsCount(1);
      await tf.setBackend("wasm");
    }
  } else {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    if (wanted > 1) note = "WASM SIMD is unavailable; threads need the threaded-SIMD build";
    await tf.setBackend("wasm");
  }
  await tf.ready();
  if (tf.getBackend() !== "wasm") {
    throw new Error("convscope: the tfjs wasm backend failed to start");
  }
  wasmStarted = true;
  if (options.fastInputGradient ?? true) useFastHeapReads(tf.backend());
  const threads = wasm.getThreadsCount();
  if (threads < wanted && note == null) {
    note = `asked for ${wanted} threads, the backend runs ${threads}`;
  }
  return { backend: "wasm", simd, threads, ...(note ? { note } : {}) };
}

/**
 * Throws a clear error when no backend has been started yet (tfjs's own
 * message talks about priorities and `tf.ready()`).
 *
 * @example
 * ```ts
 * import { initBackend } from "convscope";
 * import { assertBackendReady } from "./init.ts";
 * await initBackend();
 * assertBackendReady(); // passes
 * ```
 */
export function assertBackendReady(): void {
  if (tf.engine().backendName == null) {
    throw new Error("convscope: no tfjs backend is running yet: call `await initBackend()` first");
  }
}
