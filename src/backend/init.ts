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
import { useFastHeapReads } from "./fast_read.ts";
import { useFusedConvGradients } from "./fused_conv_grad.ts";
import { registerWasmReductions } from "./reductions.ts";
import { registerWasmWinograd, setWinogradConvolutions } from "./winograd.ts";
import { restoreStockWasmKernels } from "./kernel_registry.ts";

/** What {@linkcode initBackend} actually got, which may be less than it was asked for. */
export interface BackendInfo {
  /** The active tfjs backend. */
  backend: "wasm" | "cpu";
  /** Whether WASM SIMD is in use (always false on `cpu`). */
  simd: boolean;
  /** Threads XNNPACK runs on, as the backend itself reports (1 on `cpu`). */
  threads: number;
  /** Why fewer threads than asked run, when that happens. */
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
    /** `"wasm"` (default): WebAssembly with SIMD, XNNPACK and threads. `"cpu"`: plain JS reference. */
    backend?: "wasm" | "cpu";
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
     * gradients) by Winograd's F(2×2, 3×3) on XNNPACK's matrix product
     * (default true; needs `fastInputGradient`). Results differ from the direct
     * convolution by float rounding only. Can be switched at any time.
     */
    winograd?: boolean;
  } = {},
): Promise<BackendInfo> {
  const backend = options.backend ?? "wasm";
  const wanted = backend === "cpu"
    ? 1
    : Math.max(1, Math.floor(options.threads ?? os.cpus().length));
  const fast = options.fastInputGradient ?? true;
  const key = `${backend}:${wanted}:${fast}:${options.winograd ?? true}`;
  silenceCpuBanner();
  setWinogradConvolutions((options.winograd ?? true) && fast);
  if (current?.key === key && tf.getBackend() === backend) return current.info;
  // Every call ends in the kernel set it asks for, whatever came before.
  useFastKernels(fast);
  if (backend === "cpu") {
    await tf.setBackend("cpu");
    await tf.ready();
    current = { key, info: { backend: "cpu", simd: false, threads: 1 } };
    return current.info;
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
    current = { key, info };
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
  current = {
    key,
    info: { backend: "wasm", simd, threads, ...(note ? { note } : {}) },
  };
  return current.info;
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
