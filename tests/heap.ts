/**
 * The WASM backend's heap size: it only grows, so a leak that tf.memory()
 * does not see (scratch buffers, kernel caches) shows here.
 *
 * @module
 */
import { tf } from "../mod.ts";

/** Bytes in the wasm backend's linear memory (0 on another backend). */
export function wasmHeapBytes(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength ?? 0;
}
