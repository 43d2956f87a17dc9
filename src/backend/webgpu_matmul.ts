/**
 * tfjs's webgpu matrix products, made right in two cases:
 * - a weight matrix larger than one storage binding: VGG16's `fc1` kernel is
 *   25088×4096 floats, 392 MiB, and Mesa's software driver (like some GPUs)
 *   binds at most 128 MiB; bound whole it reads as zeros. It is split into
 *   column blocks (row blocks when used transposed) that fit, each block
 *   multiplied, the results joined;
 * - a product with `transposeB` that tfjs would run with its split-K program
 *   (few outputs, a long inner axis: a Dense layer's input gradient, e.g.
 *   [1, 4096]·[512, 4096]ᵀ) returns wrong values in tfjs 4.22 (errors of
 *   2.8 against results of about 1, measured on lavapipe, where the program
 *   without `transposeB` is right): such products run with the small-output
 *   program tfjs picks for the same shapes otherwise.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { replaceKernel, withScratch } from "./kernel_registry.ts";
import { storageBindingBytes } from "./webgpu.ts";

/** The parts of tfjs's webgpu backend this uses. */
export interface WebGpuBackendLike {
  thresholdToIncreaseWorkgroups: number;
  tensorMap: { get(dataId: object): { values: ArrayLike<number> | null } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
  disposeData(dataId: unknown, force?: boolean): boolean;
}

const bytesOf = (t: tf.TensorInfo) => 4 * t.shape.reduce((a, d) => a * d, 1);
const product = (dims: number[]) => dims.reduce((a, d) => a * d, 1);

/** tfjs 4.22's choice of its split-K program (`batchMatMulImpl`), for these shapes. */
function wouldSplitK(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  backend: WebGpuBackendLike,
): boolean {
  if ((tf.env().get("WEBGPU_MATMUL_PROGRAM_TYPE") as number) >= 0) return false;
  const outerA = transposeA ? a.shape.at(-1)! : a.shape.at(-2)!;
  const outerB = b.shape.at(-2)!; // transposed b: [N, K]
  const inner = b.shape.at(-1)!;
  const batch = Math.max(product(a.shape.slice(0, -2)), product(b.shape.slice(0, -2)));
  const flag = tf.env().getNumber("WEBGPU_THRESHOLD_TO_INCREASE_WORKGROUPS_FOR_MATMUL");
  const threshold = flag > 0 ? flag : backend.thresholdToIncreaseWorkgroups;
  const workgroups = batch * Math.ceil(outerA / 32) * Math.ceil(outerB / 32);
  const few = workgroups <= threshold || (outerA <= 8 && workgroups <= threshold * 2);
  return few && batch * outerA * outerB > 128 && batch === 1 && inner >= 2000;
}

/** The stock kernel run with the small-output program instead of split-K. */
function withoutSplitK(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    ...stock,
    kernelFunc: (args) => {
      const env = tf.env();
      const before = env.get("WEBGPU_MATMUL_PROGRAM_TYPE");
      if ((before as number) >= 0) return stock.kernelFunc(args);
      // MatMulProgramType.MatMulSmallOutputSizeProgram in tfjs-backend-webgpu 4.22.
      env.set("WEBGPU_MATMUL_PROGRAM_TYPE", 2);
      try {
        return stock.kernelFunc(args);
      } finally {
        env.set("WEBGPU_MATMUL_PROGRAM_TYPE", before);
      }
    },
  };
}

/** Registers the corrected matrix-product kernels on webgpu (idempotent). */
export function registerWebGpuMatMul(): void {
  for (const name of ["BatchMatMul", "_FusedMatMul"]) {
    const stock = tf.getKernel(name, "webgpu");
    if (!stock || (stock as { convscope?: true }).convscope) continue;
    // One kernel for every product: the stock one, without split-K where that is wrong.
    const product: tf.KernelFunc = (call) => {
      const { a, b } = call.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const attrs = call.attrs as { transposeA: boolean; transposeB: boolean };
      const backend = call.backend as unknown as WebGpuBackendLike;
      return attrs.transposeB && wouldSplitK(a, b, attrs.transposeA, backend)
        ? withoutSplitK(stock).kernelFunc(call)
        : stock.kernelFunc(call);
    };
    replaceKernel(name, "webgpu", (args) => {
      const backend = args.backend as unknown as WebGpuBackendLike;
      const limit = storageBindingBytes(backend)!;
      const { b } = args.inputs as { b: tf.TensorInfo };
      return bytesOf(b) > limit ? splitProduct(args, product, backend, limit) : product(args);
    });
  }
}

/**
 * a·b (or a·bᵀ) with b too large to bind: b's values, kept on the CPU (see
 * `adaptWebGpuBackend`), are cut into blocks along the output axis, each
 * block multiplied, the results concatenated; a fused bias and activation
 * are applied to each block's slice.
 */
function splitProduct(
  args: Parameters<tf.KernelFunc>[0],
  product: tf.KernelFunc,
  backend: WebGpuBackendLike,
  limit: number,
): tf.TensorInfo {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo>;
  const attrs = args.attrs as { transposeA: boolean; transposeB: boolean };
  const stored = backend.tensorMap.get(b.dataId).values;
  const batchOne = b.shape.length === 2 || (b.shape.length === 3 && b.shape[0] === 1);
  if (!stored || !batchOne || bytesOf(a) > limit || preluActivationWeights) {
    throw new Error(
      `convscope: a [${a.shape}]·[${b.shape}] matrix product does not fit one WebGPU storage ` +
        `binding (${limit / 2 ** 20} MiB on this adapter) and cannot be split here; ` +
        "use the wasm backend for it",
    );
  }
  const values = stored instanceof Float32Array ? stored : Float32Array.from(stored);
  const [rows, cols] = b.shape.slice(-2);
  // The output axis of b: its columns, or its rows when it is used transposed.
  const outputs = attrs.transposeB ? rows : cols;
  const inner = attrs.transposeB ? cols : rows;
  const perBlock = Math.max(1, Math.floor(limit / (4 * inner)));
  const biasStored = bias ? backend.tensorMap.get(bias.dataId).values : null;
  if (bias && !(bias.shape.length === 1 && bias.shape[0] === outputs && biasStored)) {
    throw new Error(
      `convscope: a split WebGPU matrix product cannot apply a [${bias.shape}] bias; ` +
        "use the wasm backend for it",
    );
  }
  const biasValues = biasStored == null
    ? undefined
    : biasStored instanceof Float32Array
    ? biasStored
    : Float32Array.from(biasStored);
  return withScratch(backend, (scratch) => {
    const pieces: tf.TensorInfo[] = [];
    for (let start = 0; start < outputs; start += perBlock) {
      const n = Math.min(perBlock, outputs - start);
      let block: Float32Array;
      if (attrs.transposeB) {
        // Rows start … start + n of a row-major [rows, cols] matrix.
        block = values.slice(start * cols, (start + n) * cols);
      } else {
        block = new Float32Array(inner * n);
        for (let k = 0; k < rows; k++) {
          block.set(values.subarray(k * cols + start, k * cols + start + n), k * n);
        }
      }
      const blockShape = attrs.transposeB ? [n, inner] : [inner, n];
      if (b.shape.length === 3) blockShape.unshift(1);
      const inputs: Record<string, tf.TensorInfo> = {
        a,
        b: scratch.keep(backend.makeTensorInfo(blockShape, "float32", block)),
      };
      if (biasValues) {
        inputs.bias = scratch.keep(
          backend.makeTensorInfo([n], "float32", biasValues.slice(start, start + n)),
        );
      }
      pieces.push(
        scratch.keep(product({ ...args, inputs } as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo),
      );
    }
    return scratch.run("Concat", pieces as unknown as Record<string, tf.TensorInfo>, {
      axis: pieces[0].shape.length - 1,
    });
  }, "webgpu");
}
