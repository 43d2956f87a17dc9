/**
 * A zero-copy `Identity` for the tfjs WASM backend.
 *
 * tfjs clones every tensor it saves for a gradient through `Identity`; the
 * stock wasm kernel copies the buffer, so each backward pass sees a filter
 * with a new identity, and XNNPACK re-packs its weights (~0.1 s for a
 * 3×3×512×512 filter). Like the cpu and webgl backends, this kernel shares
 * the buffer and counts the reference instead; tfjs kernels never write into
 * their inputs, so sharing is safe.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { replaceWasmKernel } from "./kernel_registry.ts";

interface RefCountingBackend {
  incRef(dataId: unknown): void;
}

/** Registers the sharing `Identity` on wasm (idempotent). */
export function registerWasmSharedIdentity(): void {
  replaceWasmKernel("Identity", ({ inputs, backend }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    (backend as unknown as RefCountingBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}
