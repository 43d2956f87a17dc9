import * as tf from "@tensorflow/tfjs";
import { deflateSync } from "node:zlib";
import { initBackend, loadImage } from "../mod.ts";
import { decodeImage } from "../src/image/load.ts";
import { resizeImage } from "../src/image/resize.ts";
import { assertAlmostEquals, assertEquals, assertRejects } from "./assert.ts";

await initBackend();
const CHELSEA = new URL("../notebooks/images/chelsea.png", import.meta.url);

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A minimal PNG encoder for test fixtures (grey, grey+alpha, RGBA). */
function png(width: number, height: number, colorType: 0 | 4 | 6, pixels: number[]): Uint8Array {
  const channels = { 0: 1, 4: 2, 6: 4 }[colorType];
  const raw = new Uint8Array(height * (1 + width * channels));
  for (let y = 0; y < height; y++) {
    raw.set(
      pixels.slice(y * width * channels, (y + 1) * width * channels),
      y * (1 + width * channels) + 1,
    );
  }
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, colorType, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array()),
  ];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}

Deno.test("loadImage gives float32 RGB 0–255 [h, w, 3], resized on request", async () => {
  const full = await loadImage(CHELSEA);
  assertEquals(full.shape, [300, 451, 3]);
  assertEquals(full.dtype, "float32");
  const small = await loadImage(CHELSEA.pathname, { targetSize: [150, 150] });
  assertEquals(small.shape, [150, 150, 3]);
  const [lo, hi] = [small.min().dataSync()[0], small.max().dataSync()[0]];
  assertEquals(lo >= 0 && hi <= 255 && hi > 200, true);
  // Averaging filters keep the mean brightness.
  assertAlmostEquals(small.mean().dataSync()[0], full.mean().dataSync()[0], 1.5);
  full.dispose();
  small.dispose();
});

Deno.test("greyscale is expanded to RGB and alpha is dropped", async () => {
  const grey = await loadImage(png(2, 1, 0, [10, 200]));
  assertEquals([...grey.dataSync()], [10, 10, 10, 200, 200, 200]);
  const greyAlpha = await loadImage(png(1, 1, 4, [77, 255]));
  assertEquals([...greyAlpha.dataSync()], [77, 77, 77]);
  const rgba = await loadImage(png(1, 1, 6, [1, 2, 3, 255]));
  assertEquals([...rgba.dataSync()], [1, 2, 3]);
  tf.dispose([grey, greyAlpha, rgba]);
});

Deno.test("bilinear resize of a constant image is constant; nearest picks pixels", () => {
  const flat = resizeImage(
    { width: 9, height: 5, channels: 1, data: new Float32Array(45).fill(3) },
    [2, 4],
  );
  assertEquals([...flat.data], new Array(8).fill(3));
  const ramp = resizeImage(
    { width: 4, height: 1, channels: 1, data: Float32Array.from([0, 1, 2, 3]) },
    [1, 2],
    "nearest",
  );
  assertEquals([...ramp.data], [1, 3]);
});

Deno.test("corrupt, truncated, unsupported and missing files name the file and the problem", async () => {
  const bytes = await Deno.readFile(CHELSEA);
  await assertRejects(() => loadImage(bytes.slice(0, 3000)), /corrupt or truncated PNG/);
  await assertRejects(
    () => loadImage(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])),
    /corrupt or truncated JPEG/,
  );
  await assertRejects(
    () => loadImage(new TextEncoder().encode("hello, world")),
    /not a PNG, JPEG or WebP/,
  );
  await assertRejects(
    () => loadImage(new TextEncoder().encode("GIF89a....")),
    /GIF is not supported/,
  );
  const dir = await Deno.makeTempDir();
  const path = `${dir}/broken.jpg`;
  await Deno.writeFile(path, new Uint8Array([0xff, 0xd8, 0xff, 0, 0, 0]));
  await assertRejects(() => loadImage(path), `${path}: corrupt or truncated JPEG`);
  await assertRejects(() => loadImage(`${dir}/missing.png`), "missing.png: no such file");
  await assertRejects(() => loadImage(dir), "is a directory");
  await Deno.remove(dir, { recursive: true });
  await assertRejects(() => decodeImage(new Uint8Array()), "not a PNG");
});
