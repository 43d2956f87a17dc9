/**
 * First layers on the tfjs WASM backend: a 3×3, stride-1 convolution of a
 * picture (at most 4 input channels) with its bias and ReLU, as convscope's
 * SIMD job. Such a layer does 27 multiply-adds per output value: too few for
 * Winograd's transforms to pay, and XNNPACK's direct kernel reaches 47
 * GFLOP/s on it here (VGG16's block1_conv1, the book convnet's conv2d_1).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type WasmBackendLike, withScratch } from "./kernel_registry.ts";
import { type ConvAttrs, isPlain3x3 } from "./_conv_shape.ts";
import { simdKernels } from "./simd_module.ts";
import { fewChannelConvolution } from "./simd_jobs.ts";

type TensorInfo = tf.TensorInfo;

let enabled = true;

/** Runs first layers as convscope's job (default) or, off, as XNNPACK's convolution. For tests and comparisons. */
export function useFewChannelConvolutions(on: boolean): void {
  enabled = on;
}

/**
 * `relu?(x ⊛ filter + bias)` for NHWC float32, 3×3, stride 1, no dilation, at
 * most 4 input channels and output channels a multiple of 8; undefined for
 * anything else or without the SIMD module.
 */
export function conv2DFewChannels(
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  relu: boolean,
  attrs: ConvAttrs,
  backend: WasmBackendLike,
): TensorInfo | undefined {
  if (!enabled || !isPlain3x3(x, filter, attrs)) return undefined;
  const [, , inC, outC] = filter.shape;
  if (inC > 4 || outC % 8 !== 0) return undefined;
  if (bias && (bias.dtype !== "float32" || tf.util.sizeFromShape(bias.shape) !== outC)) {
    return undefined;
  }
  const simd = simdKernels(backend);
  if (!simd) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    1,
    1,
    attrs.pad as "valid",
    attrs.dimRoundingMode,
  );
  if (info.outHeight < 1 || info.outWidth < 1) return undefined;
  return withScratch(backend, (scratch) => {
    const y = scratch.keep(
      backend.makeOutput([x.shape[0], info.outHeight, info.outWidth, outC], "float32"),
    );
    fewChannelConvolution(simd, backend, {
      x,
      w: filter,
      bias,
      relu,
      y,
      padTop: info.padInfo.top,
      padLeft: info.padInfo.left,
    });
    return y;
  });
}
