/**
 * Palette PNGs whose pixel indices are data: one byte per pixel, a 256-colour
 * palette, every row unfiltered. A browser shows them in colour with no
 * script; a script reads the indices back with nothing but
 * `DecompressionStream` (no PNG filters to undo), so the explorer ships each
 * layer's values once, as a picture.
 *
 * @module
 */
import { crc32, deflateSync } from "node:zlib";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/**
 * Encodes `indices` (`width * height` bytes, row-major) as an 8-bit palette
 * PNG with `palette` (256 RGB triples).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { encodeIndexedPng } from "./_indexed_png.ts";
 * const png = encodeIndexedPng(2, 1, new Uint8Array([0, 255]), new Uint8Array(768));
 * assertEquals([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
 * ```
 */
export function encodeIndexedPng(
  width: number,
  height: number,
  indices: Uint8Array,
  palette: Uint8Array,
): Uint8Array {
  if (indices.length !== width * height) {
    throw new Error(`encodeIndexedPng: ${indices.length} indices for ${width}×${height} pixels`);
  }
  if (palette.length !== 768) {
    throw new Error("encodeIndexedPng: the palette needs 256 RGB triples");
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 3, 0, 0, 0], 8); // 8 bits, palette, deflate, no filter method choice, no interlace
  const rows = new Uint8Array((width + 1) * height); // filter byte 0 ("none") before each row
  for (let y = 0; y < height; y++) {
    rows.set(indices.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  const parts = [
    new Uint8Array(SIGNATURE),
    chunk("IHDR", header),
    chunk("PLTE", palette),
    chunk("IDAT", new Uint8Array(deflateSync(rows, { level: 9 }))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
