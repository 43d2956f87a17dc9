/**
 * The filter gradient of a convolution on webgpu, right at training sizes.
 * tfjs 4.22's kernel gives each filter weight one GPU thread that loops over
 * every (image, output row, output column): the book convnet's first layer
 * at batch 4 and 150² is 87,616 iterations per thread, and on Mesa's lavapipe
 * every such gradient past about 65,000 iterations came out wrong (relative
 * error 0.1–0.6 against the cpu backend; 55,696 was still right). Long
 * single-thread loops are also what GPU watchdogs kill. This kernel runs
 * tfjs's own on slices of the batch (and of the rows, for large pictures)
 * of at most 32,768 output positions each, and sums the partial gradients.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type DisposingBackend, replaceKernel, withScratch } from "./kernel_registry.ts";

/** Output positions one call of the stock kernel may loop over. */
export const FILTER_GRADIENT_POSITIONS = 32_768;

interface Attrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

/** Registers the sliced filter gradient on webgpu (idempotent). */
export function registerWebGpuFilterGradient(): void {
  const stock = tf.getKernel("Conv2DBackpropFilter", "webgpu");
  if (!stock || (stock as { convscope?: true }).convscope) return;
  replaceKernel("Conv2DBackpropFilter", "webgpu", (args) => slicedFilterGradient(args, stock));
}

function slicedFilterGradient(
  args: Parameters<tf.KernelFunc>[0],
  stock: tf.KernelConfig,
): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as Attrs;
  if (attrs.dataFormat === "NCHW") return stock.kernelFunc(args) as tf.TensorInfo;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize, outHeight, outWidth } = info;
  if (batchSize * outHeight * outWidth <= FILTER_GRADIENT_POSITIONS) {
    return stock.kernelFunc(args) as tf.TensorInfo;
  }
  const backend = args.backend as unknown as DisposingBackend;
  return withScratch(backend, (scratch) => {
    // Pad explicitly, so that every slice is a "valid" convolution.
    const { top, bottom, left, right } = info.padInfo;
    const padded = top + bottom + left + right > 0
      ? scratch.run("PadV2", { x }, {
        paddings: [[0, 0], [top, bottom], [left, right], [0, 0]],
        constantValue: 0,
      })
      : x;
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    const [fh] = attrs.filterShape;
    const imagesPerCall = Math.max(
      1,
      Math.floor(FILTER_GRADIENT_POSITIONS / (outHeight * outWidth)),
    );
    const rowsPerCall = imagesPerCall > 1
      ? outHeight
      : Math.max(1, Math.floor(FILTER_GRADIENT_POSITIONS / outWidth));
    let sum: tf.TensorInfo | undefined;
    for (let b = 0; b < batchSize; b += imagesPerCall) {
      const nb = Math.min(imagesPerCall, batchSize - b);
      for (let r = 0; r < outHeight; r += rowsPerCall) {
        const nr = Math.min(rowsPerCall, outHeight - r);
        const xPart = scratch.run("Slice", { x: padded }, {
          begin: [b, r * sh, 0, 0],
          size: [nb, (nr - 1) * sh + fh, padded.shape[2], padded.shape[3]],
        });
        const dyPart = scratch.run("Slice", { x: dy }, {
          begin: [b, r, 0, 0],
          size: [nb, nr, -1, -1],
        });
        const part = scratch.run(
          "Conv2DBackpropFilter",
          { x: xPart, dy: dyPart },
          { ...attrs, strides: [sh, sw], pad: "valid" },
          stock,
        );
        sum = sum ? scratch.run("Add", { a: sum, b: part }, {}) : part;
      }
    }
    return sum!;
  }, "webgpu");
}
