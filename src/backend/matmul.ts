/**
 * `BatchMatMul` on the tfjs WASM backend with transposed operands.
 *
 * XNNPACK's fully-connected operator, behind tfjs's wasm matmul, is fast
 * when its "weights" operand (the right-hand side) is small: it re-packs
 * that operand on every new buffer. The stock kernel falls back to a scalar
 * loop when the left-hand side is transposed, and is slow with a large
 * transposed right-hand side: exactly the shapes of a dense layer's backward
 * pass (dW = xᵀ·dy, dx = dy·Wᵀ). Here the transposes are made explicit on
 * the smaller operand, or the product is computed as Cᵀ = B·Aᵀ so that the
 * small operand is the one packed. A single row times a transposed matrix
 * (a dense layer's input gradient at batch 1) is convscope's SIMD job, which
 * reads the matrix once (XNNPACK pads the one column to 8 and computes all),
 * and so is a batch times a large matrix (a dense layer's forward pass in
 * training), which reads the weights in place instead of packing them anew
 * at every step.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { replaceWasmKernel, type WasmBackendLike, withScratch } from "./kernel_registry.ts";
import { simdKernels } from "./simd_module.ts";
import { rowDots, rowMajorProduct } from "./simd_jobs.ts";

let stock: tf.KernelConfig | undefined;

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** C = op(A)·op(B) for 2-D or 3-D `[1, r, c]` operands, through the stock kernel with no transposed lhs. */
export function matMulWithoutTransposedLhs(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  { transposeA, transposeB }: MatMulAttrs,
  backend: WasmBackendLike,
): tf.TensorInfo {
  return withScratch(backend, (scratch) => {
    const plain = { transposeA: false, transposeB: false };
    const perm = a.shape.length === 2 ? [1, 0] : [0, 2, 1];
    const transpose = (x: tf.TensorInfo) => scratch.run("Transpose", { x }, { perm });
    const [rows, cols] = a.shape.slice(-2), [bRows, bCols] = b.shape.slice(-2);
    const m = transposeA ? cols : rows;
    const n = transposeB ? bRows : bCols;
    let out: tf.TensorInfo;
    if (transposeB && !transposeA && n > m) {
      // Cᵀ = B·Aᵀ: B is already [n, k] row-major; the small Aᵀ becomes the packed operand.
      const cT = scratch.run("BatchMatMul", { a: b, b: transpose(a) }, plain, stock);
      out = transpose(cT);
    } else {
      const lhs = transposeA ? transpose(a) : a;
      const rhs = transposeB ? transpose(b) : b;
      out = scratch.run("BatchMatMul", { a: lhs, b: rhs }, plain, stock);
    }
    return out;
  });
}

/**
 * The `[m, n]` product of `a` (rank 2, or rank 3 with a batch of 1) that
 * `job` writes into a new output, freed if the job fails.
 */
function productByJob(
  a: tf.TensorInfo,
  m: number,
  n: number,
  backend: WasmBackendLike,
  job: (out: tf.TensorInfo) => void,
): tf.TensorInfo {
  return withScratch(backend, (scratch) => {
    const out = scratch.keep(
      backend.makeOutput(a.shape.length === 2 ? [m, n] : [1, m, n], "float32"),
    );
    job(out);
    return out;
  });
}

let rowPath = true;

/** Runs one row times a transposed matrix as convscope's job (default) or, off, as XNNPACK's product. For tests. */
export function useRowDots(on: boolean): void {
  rowPath = on;
}

/**
 * `[1, k] · Bᵀ` for `B` `[n, k]` as row dots (see {@linkcode rowDots});
 * undefined for other shapes or without the SIMD module.
 */
export function rowTimesTransposed(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  { transposeA, transposeB }: MatMulAttrs,
  backend: WasmBackendLike,
): tf.TensorInfo | undefined {
  if (!rowPath || transposeA || !transposeB || b.dtype !== "float32") return undefined;
  const [m, k] = a.shape.slice(-2), [n, bk] = b.shape.slice(-2);
  if (m !== 1 || k !== bk) return undefined;
  const simd = simdKernels(backend);
  if (!simd) return undefined;
  return productByJob(a, 1, n, backend, (out) => rowDots(simd, backend, b, a, out));
}

let ownProductPath = true;

/** Runs large plain products as convscope's job (default) or, off, on XNNPACK. For tests. */
export function useRowMajorProducts(on: boolean): void {
  ownProductPath = on;
}

/**
 * Rows of the left-hand side from which a plain product reads its weights in
 * place: a training batch. Below it (a picture or a few) the weights are most
 * often fixed, and XNNPACK packs them once and keeps them.
 */
const OWN_PRODUCT_MIN_ROWS = 8;

/**
 * `A · B` with neither transposed, `[m, k] · [k, n]`, m ≥ 8, n a multiple of 8
 * and `B` large, as the SIMD module's job that reads `B` in place: the
 * forward pass of a dense layer in training, whose weights change at every
 * step (XNNPACK packs all 12.8 MB of the book convnet's dense_1 each time:
 * 18.9 ms of a 302 ms step). Undefined for other shapes or without the module.
 */
export function plainProductInPlace(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  { transposeA, transposeB }: MatMulAttrs,
  backend: WasmBackendLike,
): tf.TensorInfo | undefined {
  if (!ownProductPath || transposeA || transposeB || b.dtype !== "float32") return undefined;
  const [m, k] = a.shape.slice(-2), [bk, n] = b.shape.slice(-2);
  if (k !== bk || m < OWN_PRODUCT_MIN_ROWS || n % 8 !== 0 || k * n < 1 << 18) return undefined;
  const simd = simdKernels(backend);
  if (!simd) return undefined;
  return productByJob(a, m, n, backend, (out) => rowMajorProduct(simd, backend, a, b, out));
}

/** Registers the transposing `BatchMatMul` on wasm (idempotent). */
export function registerWasmMatMul(): void {
  const replaced = replaceWasmKernel("BatchMatMul", ({ inputs, attrs, backend }) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const t = attrs as unknown as MatMulAttrs;
    // tfjs hands the kernel rank-2 operands as they are, batches as rank 3.
    const single = a.shape.length === b.shape.length &&
      (a.shape.length === 2 || (a.shape.length === 3 && a.shape[0] === 1 && b.shape[0] === 1));
    if (!single || a.dtype !== "float32") return stock!.kernelFunc({ inputs, attrs, backend });
    const wasm = backend as unknown as WasmBackendLike;
    if (!t.transposeA && !t.transposeB) {
      return plainProductInPlace(a, b, t, wasm) ?? stock!.kernelFunc({ inputs, attrs, backend });
    }
    return rowTimesTransposed(a, b, t, wasm) ?? matMulWithoutTransposedLhs(a, b, t, wasm);
  });
  stock ??= replaced;
}
