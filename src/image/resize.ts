/**
 * Resampling that matches Pillow's `Image.resize`: separable filters whose
 * support widens when shrinking, so a 500-px photo reduced to 150 px is
 * averaged, not aliased (tf.image.resizeBilinear samples only 4 pixels).
 *
 * @module
 */

/** An interleaved float image. */
export interface FloatImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels per pixel. */
  channels: number;
  /** `width * height * channels` values, row-major, interleaved. */
  data: Float32Array;
}

function triangle(x: number): number {
  x = Math.abs(x);
  return x < 1 ? 1 - x : 0;
}

/** Per output index: first input index and normalised weights (Pillow's precompute_coeffs). */
function coefficients(inSize: number, outSize: number) {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = 1 * filterScale;
  const starts = new Int32Array(outSize);
  const weights: Float32Array[] = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support + 0.5));
    const hi = Math.min(inSize, Math.floor(center + support + 0.5));
    const w = new Float32Array(Math.max(1, hi - lo));
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const v = triangle((j - center + 0.5) / filterScale);
      w[j - lo] = v;
      total += v;
    }
    if (total > 0) { for (let k = 0; k < w.length; k++) w[k] /= total; }
    starts[i] = lo;
    weights.push(w);
  }
  return { starts, weights };
}

function resizeAxis(image: FloatImage, outSize: number, horizontal: boolean): FloatImage {
  const { width, height, channels, data } = image;
  const inSize = horizontal ? width : height;
  const { starts, weights } = coefficients(inSize, outSize);
  const outW = horizontal ? outSize : width, outH = horizontal ? height : outSize;
  const out = new Float32Array(outW * outH * channels);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const i = horizontal ? x : y;
      const w = weights[i], s = starts[i];
      const o = (y * outW + x) * channels;
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < w.length; k++) {
          const src = horizontal ? (y * width + s + k) : ((s + k) * width + x);
          acc += w[k] * data[src * channels + c];
        }
        out[o + c] = acc;
      }
    }
  }
  return { width: outW, height: outH, channels, data: out };
}

/**
 * Resizes to `[height, width]`: `"bilinear"` (Pillow's antialiased bilinear)
 * or `"nearest"` (Pillow's nearest, Keras `load_img`'s own default).
 *
 * @example
 * ```ts
 * import { resizeImage } from "./resize.ts";
 * const img = { width: 4, height: 4, channels: 1, data: new Float32Array(16).fill(7) };
 * console.log(resizeImage(img, [2, 2]).data); // Float32Array [7, 7, 7, 7]
 * ```
 */
export function resizeImage(
  image: FloatImage,
  [height, width]: readonly [number, number],
  interpolation: "bilinear" | "nearest" = "bilinear",
): FloatImage {
  if (!(height > 0 && width > 0 && Number.isInteger(height) && Number.isInteger(width))) {
    throw new Error(
      `targetSize must be two positive integers [height, width]; got [${height}, ${width}]`,
    );
  }
  if (image.width === width && image.height === height) return image;
  if (interpolation === "nearest") {
    const out = new Float32Array(width * height * image.channels);
    for (let y = 0; y < height; y++) {
      const sy = Math.min(image.height - 1, Math.floor((y + 0.5) * image.height / height));
      for (let x = 0; x < width; x++) {
        const sx = Math.min(image.width - 1, Math.floor((x + 0.5) * image.width / width));
        out.set(
          image.data.subarray(
            (sy * image.width + sx) * image.channels,
            (sy * image.width + sx + 1) * image.channels,
          ),
          (y * width + x) * image.channels,
        );
      }
    }
    return { width, height, channels: image.channels, data: out };
  }
  // Pillow resizes horizontally first, then vertically.
  const horizontal = image.width === width ? image : resizeAxis(image, width, true);
  return horizontal.height === height ? horizontal : resizeAxis(horizontal, height, false);
}
