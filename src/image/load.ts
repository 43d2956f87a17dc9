/**
 * Loading pictures as tensors, like Keras `load_img` + `img_to_array`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createCanvas, loadImage as skiaLoadImage } from "@napi-rs/canvas";
import { Buffer } from "node:buffer";
import { readSource, type Source } from "../io/source.ts";
import { type FloatImage, resizeImage } from "./resize.ts";
import { declaredImageSize } from "./_image_size.ts";

/**
 * Pixels an image may declare before it is decoded: 2²⁵ (33.5 megapixels,
 * about 540 MB while decoding). Raise it with `maxPixels` for larger photos.
 */
export const DEFAULT_MAX_PIXELS = 2 ** 25;

/** The image formats recognised by their first bytes. */
export function sniffImageFormat(
  bytes: Uint8Array,
): "png" | "jpeg" | "webp" | "gif" | "bmp" | undefined {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    return "png";
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (
    b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 &&
    b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50
  ) return "webp";
  if (b.length >= 4 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return "gif";
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return "bmp";
  return undefined;
}

/**
 * Decodes PNG, JPEG or WebP bytes to RGB floats 0–255 (alpha dropped, grey
 * expanded). Throws an error naming `label` and the problem.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./load.ts";
 * const bytes = await Deno.readFile("notebooks/images/chelsea.png");
 * const rgb = await decodeImage(bytes, "chelsea.png");
 * console.log(rgb.width, rgb.height, rgb.channels); // 451 300 3
 * ```
 */
export async function decodeImage(
  bytes: Uint8Array,
  label = `<${bytes.length} bytes>`,
  { maxPixels = DEFAULT_MAX_PIXELS }: { maxPixels?: number } = {},
): Promise<FloatImage> {
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    throw new Error(`${label}: not a PNG, JPEG or WebP image (unrecognised file signature)`);
  }
  if (format === "gif" || format === "bmp") {
    throw new Error(`${label}: ${format.toUpperCase()} is not supported; use PNG, JPEG or WebP`);
  }
  const size = declaredImageSize(bytes, format);
  if (!size) {
    throw new Error(`${label}: corrupt or truncated ${format.toUpperCase()} (unreadable header)`);
  }
  if (size.width * size.height > maxPixels) {
    throw new Error(
      `${label}: the ${format.toUpperCase()} declares ${size.width}×${size.height} pixels, more than ` +
        `the ${maxPixels} allowed (pass maxPixels to load larger images)`,
    );
  }
  let image: Awaited<ReturnType<typeof skiaLoadImage>>;
  try {
    image = await skiaLoadImage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new Error(
      `${label}: corrupt or truncated ${format.toUpperCase()} (${(error as Error).message})`,
    );
  }
  if (!(image.width > 0 && image.height > 0)) {
    throw new Error(`${label}: corrupt or truncated ${format.toUpperCase()} (no pixels)`);
  }
  const { width, height } = image;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Float32Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    data[i] = rgba[j];
    data[i + 1] = rgba[j + 1];
    data[i + 2] = rgba[j + 2];
  }
  return { width, height, channels: 3, data };
}

/**
 * Loads a PNG, JPEG or WebP image as a float32 `[height, width, 3]` tensor
 * of RGB values 0–255, like Keras `img_to_array(load_img(path, target_size))`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, loadImage } from "convscope";
 * await initBackend();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * assertEquals(image.shape, [150, 150, 3]);
 * ```
 */
export async function loadImage(
  source: Source,
  options: {
    /** Resize to `[height, width]`, like Keras `target_size`. */
    targetSize?: readonly [number, number];
    /**
     * `"bilinear"` (default; Pillow's antialiased bilinear) or `"nearest"`
     * (Keras `load_img`'s own default, for pixel-identical reproductions).
     */
    interpolation?: "bilinear" | "nearest";
    /** Largest width × height accepted, checked in the header before decoding. Default {@linkcode DEFAULT_MAX_PIXELS}. */
    maxPixels?: number;
  } = {},
): Promise<tf.Tensor3D> {
  const { bytes, label } = await readSource(source);
  let image = await decodeImage(bytes, label, { maxPixels: options.maxPixels });
  if (options.targetSize) {
    image = resizeImage(image, options.targetSize, options.interpolation ?? "bilinear");
  }
  return tf.tensor3d(image.data, [image.height, image.width, 3], "float32");
}
