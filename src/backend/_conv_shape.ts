/**
 * Which convolutions convscope's own kernels take: the checks the Winograd
 * path, the first-layer jobs and the gradient kernels share.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** The attributes of a forward convolution that decide its path. */
export interface ConvAttrs {
  strides: number | number[];
  pad: "valid" | "same" | number | number[][];
  dilations?: number | number[];
  dataFormat?: string;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** A stride or dilation of 1 on every axis (absent counts as 1). */
export function allOnes(v: number | number[] | undefined): boolean {
  return v == null || (Array.isArray(v) ? v.every((d) => d === 1) : v === 1);
}

/**
 * `x ⊛ filter` is float32, channels-last, 3×3, stride 1 and undilated, with
 * the filter's input channels matching `x`'s.
 */
export function isPlain3x3(x: tf.TensorInfo, filter: tf.TensorInfo, attrs: ConvAttrs): boolean {
  if (x.dtype !== "float32" || filter.dtype !== "float32") return false;
  if (attrs.dataFormat != null && attrs.dataFormat !== "NHWC") return false;
  if (!allOnes(attrs.strides) || !allOnes(attrs.dilations)) return false;
  const [kh, kw, inC] = filter.shape;
  return kh === 3 && kw === 3 && x.shape.length === 4 && x.shape[3] === inC;
}
