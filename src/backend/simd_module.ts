/**
 * convscope's own WASM SIMD kernels (`wasm/simd_kernels.c`: the Winograd
 * transforms, jobs of batched matrix products and whole Winograd passes
 * (`simd_jobs.ts`), the max-pool gradient and a
 * transposed im2col for filter gradients), instantiated on tfjs's own WASM
 * memory so that they read and write tensors in place. The build with relaxed
 * SIMD (fused multiply-add) is taken where the runtime validates it, the
 * plain SIMD build elsewhere. Where neither can load (no WASM SIMD), callers
 * run the same work in JS or on XNNPACK.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import {
  PLAIN_MEMORY_MODULE,
  PLAIN_MEMORY_RELAXED_MODULE,
  SHARED_MEMORY_MODULE,
  SHARED_MEMORY_RELAXED_MODULE,
} from "./wasm/simd_kernels.ts";
import type { WasmBackendLike } from "./kernel_registry.ts";

/** The module's exports; every pointer is a byte offset into tfjs's memory. */
export interface SimdKernels {
  winogradInput(...args: number[]): void;
  winogradOutput(...args: number[]): void;
  winograd4Input(...args: number[]): void;
  winograd4Output(...args: number[]): void;
  maxPoolGrad2x2(...args: number[]): void;
  im2col3x3Transposed(...args: number[]): void;
  winogradFilter(...args: number[]): void;
  flipFilter(...args: number[]): void;
  runJob(...args: number[]): void;
  /** The compiled module and the memory it runs on, for helper threads. */
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Whether this is the relaxed-SIMD build (fused multiply-add). */
  relaxed: boolean;
}

interface EmscriptenBackend extends WasmBackendLike {
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } | undefined };
}

const modules = new WeakMap<object, Map<boolean, SimdKernels | null>>();
let preferSimd = true;
let preferRelaxed = true;

/** Chooses the SIMD module (default) or the JS fallbacks, for tests and comparisons. */
export function useSimdKernels(on: boolean): void {
  preferSimd = on;
}

/**
 * Chooses the relaxed-SIMD build where it validates (default) or the plain
 * SIMD build everywhere, for tests and comparisons.
 */
export function useRelaxedSimd(on: boolean): void {
  preferRelaxed = on;
}

/** The SIMD kernels bound to `backend`'s memory, or null where they cannot load. */
export function simdKernels(backend: WasmBackendLike): SimdKernels | null {
  if (!preferSimd) return null;
  let variants = modules.get(backend);
  if (!variants) modules.set(backend, variants = new Map());
  let found = variants.get(preferRelaxed);
  if (found !== undefined) return found;
  found = null;
  const wasm = (backend as EmscriptenBackend).wasm;
  const memory = wasm?.wasmMemory ?? wasm?.asm?.memory;
  if (memory instanceof WebAssembly.Memory) {
    const shared = typeof SharedArrayBuffer !== "undefined" &&
      memory.buffer instanceof SharedArrayBuffer;
    const decode = (base64: string) => Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0));
    const relaxedBytes = decode(
      shared ? SHARED_MEMORY_RELAXED_MODULE : PLAIN_MEMORY_RELAXED_MODULE,
    );
    const relaxed = preferRelaxed && WebAssembly.validate(relaxedBytes);
    const bytes = relaxed
      ? relaxedBytes
      : decode(shared ? SHARED_MEMORY_MODULE : PLAIN_MEMORY_MODULE);
    try {
      const module = new WebAssembly.Module(bytes);
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      const exports = instance.exports as Record<string, (...args: number[]) => void>;
      found = {
        winogradInput: exports.winograd_input,
        winogradOutput: exports.winograd_output,
        winograd4Input: exports.winograd4_input,
        winograd4Output: exports.winograd4_output,
        maxPoolGrad2x2: exports.max_pool_grad_2x2,
        im2col3x3Transposed: exports.im2col_3x3_transposed,
        winogradFilter: exports.winograd_filter,
        flipFilter: exports.flip_filter,
        runJob: exports.run_job,
        module,
        memory,
        relaxed,
      };
    } catch {
      found = null; // No WASM SIMD here: the JS fallbacks do the same work.
    }
  }
  variants.set(preferRelaxed, found);
  return found;
}

/** Where `info`'s values start in the backend's memory (a byte offset). */
export function heapOffset(backend: WasmBackendLike, info: tf.TensorInfo): number {
  return (backend as EmscriptenBackend).dataIdMap.get(info.dataId)!.memoryOffset;
}
