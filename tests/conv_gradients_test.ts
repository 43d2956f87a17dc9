import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { initBackend } from "../src/backend/init.ts";

const info = await initBackend();

interface Case {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: [number, number];
  stride: number | [number, number];
  pad: "valid" | "same" | [[0, 0], [number, number], [number, number], [0, 0]];
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomCases(count: number, seed: number): Case[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const cases: Case[] = [];
  for (let i = 0; i < count; i++) {
    const k: [number, number] = [pick([1, 2, 3, 5]), pick([1, 3, 4])];
    const stride = pick<number | [number, number]>([1, 1, 2, 3, [2, 1], [1, 3]]);
    const pad = pick<Case["pad"]>(["valid", "same", [[0, 0], [1, 2], [0, 1], [0, 0]]]);
    cases.push({
      n: pick([1, 2, 3]),
      h: 6 + Math.floor(r() * 10),
      w: 6 + Math.floor(r() * 10),
      ci: pick([1, 3, 4, 8]),
      co: pick([1, 2, 5, 16]),
      k,
      stride,
      pad,
    });
  }
  return cases;
}

function gradsOf(c: Case, x: Float32Array, w: Float32Array, dy: (shape: number[]) => tf.Tensor) {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [c.n, c.h, c.w, c.ci]);
    const wt = tf.tensor4d(w, [c.k[0], c.k[1], c.ci, c.co]);
    const f = (a: tf.Tensor4D, b: tf.Tensor4D) => {
      const y = tf.conv2d(a, b, c.stride, c.pad);
      return tf.sum(tf.mul(y, dy(y.shape)));
    };
    const [gx, gw] = tf.grads(f as (...args: tf.Tensor[]) => tf.Tensor)([xt, wt]);
    return [gx.dataSync() as Float32Array, gw.dataSync() as Float32Array];
  });
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-12);
}

Deno.test(`conv2d gradients on wasm (${info.threads} threads) match the cpu backend`, async () => {
  const r = rng(7);
  for (const c of randomCases(60, 1234)) {
    const x = Float32Array.from({ length: c.n * c.h * c.w * c.ci }, () => r() * 2 - 1);
    const w = Float32Array.from({ length: c.k[0] * c.k[1] * c.ci * c.co }, () => r() * 2 - 1);
    const dySeed = Math.floor(r() * 1e9);
    const dy = (shape: number[]) => {
      const rr = rng(dySeed);
      return tf.tensor(
        Float32Array.from({ length: shape.reduce((p, q) => p * q) }, () => rr() - 0.5),
        shape,
      );
    };
    await tf.setBackend("cpu");
    const [cx, cw] = gradsOf(c, x, w, dy);
    await tf.setBackend("wasm");
    const [wx, ww] = gradsOf(c, x, w, dy);
    const label = JSON.stringify(c);
    assertEquals(wx.length, cx.length, label);
    assert(relErr(wx, cx) <= 1e-4, `input gradient ${relErr(wx, cx)} for ${label}`);
    assert(relErr(ww, cw) <= 1e-4, `filter gradient ${relErr(ww, cw)} for ${label}`);
  }
});

Deno.test("conv2d gradients on wasm leak neither tensors nor wasm heap", () => {
  const x = tf.randomNormal([2, 20, 20, 8]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 8, 16]) as tf.Tensor4D;
  const step = () =>
    tf.tidy(() => {
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same"))
      )([x, w]);
      return tf.add(tf.sum(gx), tf.sum(gw));
    }).dispose();
  for (let i = 0; i < 5; i++) step();
  const tensors = tf.memory().numTensors;
  const bytes = tf.memory().numBytes;
  const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
  for (let i = 0; i < 200; i++) step();
  assertEquals(tf.memory().numTensors, tensors);
  assertEquals(tf.memory().numBytes, bytes);
  assertEquals((tf.backend() as unknown as { numDataIds(): number }).numDataIds(), dataIds);
  x.dispose();
  w.dispose();
});
