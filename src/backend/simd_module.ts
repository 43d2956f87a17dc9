/**
 * convscope's own WASM SIMD kernels (`wasm/simd_kernels.c`: the Winograd
 * transforms, the max-pool gradient and a transposed im2col for filter
 * gradients), instantiated on tfjs's own WASM
 * memory so that they read and write tensors in place. Where the module
 * cannot load (no WASM SIMD), callers run the same work in JS.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { PLAIN_MEMORY_MODULE, SHARED_MEMORY_MODULE } from "./wasm/simd_kernels.ts";
import type { WasmBackendLike } from "./kernel_registry.ts";

/** The module's exports; every pointer is a byte offset into tfjs's memory. */
export interface SimdKernels {
  winogradInput(...args: number[]): void;
  winogradOutput(...args: number[]): void;
  winograd4Input(...args: number[]): void;
  winograd4Output(...args: number[]): void;
  maxPoolGrad2x2(...args: number[]): void;
  im2col3x3Transposed(...args: number[]): void;
}

interface EmscriptenBackend extends WasmBackendLike {
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } | undefined };
}

const modules = new WeakMap<object, SimdKernels | null>();
let preferSimd = true;

/** Chooses the SIMD module (default) or the JS fallbacks, for tests and comparisons. */
export function useSimdKernels(on: boolean): void {
  preferSimd = on;
}

/** The SIMD kernels bound to `backend`'s memory, or null where they cannot load. */
export function simdKernels(backend: WasmBackendLike): SimdKernels | null {
  if (!preferSimd) return null;
  let found = modules.get(backend);
  if (found !== undefined) return found;
  found = null;
  const wasm = (backend as EmscriptenBackend).wasm;
  const memory = wasm?.wasmMemory ?? wasm?.asm?.memory;
  if (memory instanceof WebAssembly.Memory) {
    const shared = typeof SharedArrayBuffer !== "undefined" &&
      memory.buffer instanceof SharedArrayBuffer;
    const base64 = shared ? SHARED_MEMORY_MODULE : PLAIN_MEMORY_MODULE;
    try {
      const bytes = Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0));
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
        env: { memory },
      });
      const exports = instance.exports as Record<string, (...args: number[]) => void>;
      found = {
        winogradInput: exports.winograd_input,
        winogradOutput: exports.winograd_output,
        winograd4Input: exports.winograd4_input,
        winograd4Output: exports.winograd4_output,
        maxPoolGrad2x2: exports.max_pool_grad_2x2,
        im2col3x3Transposed: exports.im2col_3x3_transposed,
      };
    } catch {
      found = null; // No WASM SIMD here: the JS fallbacks do the same work.
    }
  }
  modules.set(backend, found);
  return found;
}

/** Where `info`'s values start in the backend's memory (a byte offset). */
export function heapOffset(backend: WasmBackendLike, info: tf.TensorInfo): number {
  return (backend as EmscriptenBackend).dataIdMap.get(info.dataId)!.memoryOffset;
}
