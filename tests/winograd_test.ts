import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { initBackend } from "../src/backend/init.ts";
import {
  tilesPerChunk,
  useSimdTransforms,
  winogradPlan,
  winogradTransforms,
} from "../src/backend/winograd.ts";
import { tensorsWithDerivedData } from "../src/backend/kernel_registry.ts";

await initBackend();

type Pad = "valid" | "same" | [[0, 0], [number, number], [number, number], [0, 0]];

// Odd and even sizes, partial tiles, channel counts that are not multiples of
// the SIMD width, batches, and the explicit paddings the input gradient uses.
const cases: { x: [number, number, number, number]; co: number; pad: Pad }[] = [
  { x: [1, 18, 18, 64], co: 64, pad: "same" },
  { x: [2, 7, 9, 33], co: 50, pad: "valid" },
  { x: [3, 11, 6, 48], co: 37, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { x: [1, 3, 3, 40], co: 64, pad: "valid" },
  { x: [2, 5, 4, 64], co: 27, pad: "same" },
  { x: [1, 16, 17, 35], co: 35, pad: [[0, 0], [2, 2], [2, 2], [0, 0]] },
];

function run(c: (typeof cases)[number], seed: number) {
  return tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, "float32", seed) as tf.Tensor4D;
    const k = tf.randomNormal([3, 3, c.x[3], c.co], 0, 0.2, "float32", seed + 1) as tf.Tensor4D;
    const b = tf.randomNormal([c.co], 0, 1, "float32", seed + 2) as tf.Tensor1D;
    const dyFor = (shape: number[]) => tf.randomNormal(shape, 0, 1, "float32", seed + 3);
    const plain = tf.conv2d(x, k, 1, c.pad);
    const fused = tf.fused.conv2d({
      x,
      filter: k,
      bias: b,
      activation: "relu",
      strides: 1,
      pad: c.pad,
    });
    const dy = dyFor(plain.shape);
    const dx = tf.grad((xi: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(xi as tf.Tensor4D, k, 1, c.pad), dy))
    )(x);
    return [plain, fused, dx].map((t) => t.dataSync() as Float32Array);
  });
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  let worst = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return worst / scale;
}

Deno.test("Winograd convolutions, fused bias+ReLU and input gradients match the cpu backend", async () => {
  for (const [i, c] of cases.entries()) {
    const x = { shape: c.x, dtype: "float32" as const, dataId: {} };
    const filter = { shape: [3, 3, c.x[3], c.co], dtype: "float32" as const, dataId: {} };
    assert(
      winogradPlan(x, filter, { strides: 1, pad: c.pad }),
      `case ${i} takes the Winograd path`,
    );
    await tf.setBackend("cpu");
    const expected = run(c, 10 * i + 1); // seed 0 would mean "unseeded"
    await tf.setBackend("wasm");
    for (const simd of [true, false]) {
      useSimdTransforms(simd);
      const actual = run(c, 10 * i + 1);
      for (const [j, name] of ["conv2d", "fused conv2d + relu", "input gradient"].entries()) {
        assertEquals(actual[j].length, expected[j].length);
        const error = relativeError(actual[j], expected[j]);
        assert(error <= 1e-5, `${name} ${JSON.stringify(c)} simd=${simd}: relative error ${error}`);
      }
    }
    useSimdTransforms(true);
  }
});

Deno.test("large Winograd convolutions run in passes of tiles, with the same results", () => {
  const shape: [number, number, number, number] = [2, 40, 40, 128];
  const tiles = 2 * 20 * 20;
  const chunk = tilesPerChunk(128, 128, tiles);
  assert(chunk < tiles && tiles % chunk !== 0, `${tiles} tiles in passes of ${chunk}`);
  const x = tf.randomNormal(shape, 0, 1, "float32", 3) as tf.Tensor4D;
  const k = tf.randomNormal([3, 3, 128, 128], 0, 0.1, "float32", 4) as tf.Tensor4D;
  const b = tf.randomNormal([128], 0, 1, "float32", 5) as tf.Tensor1D;
  const conv = () =>
    tf.tidy(() =>
      tf.fused.conv2d({ x, filter: k, bias: b, activation: "relu", strides: 1, pad: "same" })
        .dataSync() as Float32Array
    );
  useSimdTransforms(false); // one pass over all tiles
  const whole = conv();
  useSimdTransforms(true);
  const inPasses = conv();
  assert(
    relativeError(inPasses, whole) <= 1e-6,
    `relative error ${relativeError(inPasses, whole)}`,
  );
  tf.dispose([x, k, b]);
});

Deno.test("the Winograd transforms run in the SIMD module on the wasm backend", () => {
  assertEquals(winogradTransforms(tf.backend()), "simd");
});

Deno.test("Winograd is used only where it pays: 3×3, stride 1, no dilation, enough channels", () => {
  const info = (shape: number[]) => ({ shape, dtype: "float32" as const, dataId: {} });
  const x = info([1, 20, 20, 64]);
  assert(winogradPlan(x, info([3, 3, 64, 64]), { strides: 1, pad: "same" }));
  assert(!winogradPlan(x, info([3, 3, 64, 64]), { strides: 2, pad: "same" }));
  assert(!winogradPlan(x, info([3, 3, 64, 64]), { strides: 1, pad: "same", dilations: 2 }));
  assert(!winogradPlan(x, info([5, 5, 64, 64]), { strides: 1, pad: "same" }));
  assert(!winogradPlan(info([1, 20, 20, 3]), info([3, 3, 3, 32]), { strides: 1, pad: "same" }));
  assert(!winogradPlan(x, info([3, 3, 64, 3]), { strides: 1, pad: "same" }));
  assert(!winogradPlan(x, info([3, 3, 64, 64]), { strides: 1, pad: "same", dataFormat: "NCHW" }));
});

Deno.test("Winograd: repeated calls leak no tensors or heap buffers; filter transforms go with the filter", () => {
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const x = tf.randomNormal([1, 20, 20, 64]) as tf.Tensor4D;
  const derivedBefore = tensorsWithDerivedData();
  const k = tf.randomNormal([3, 3, 64, 64]) as tf.Tensor4D;
  const step = () =>
    tf.tidy(() => {
      const g = tf.grad((xi: tf.Tensor) =>
        tf.sum(tf.relu(tf.conv2d(xi as tf.Tensor4D, k, 1, "same")))
      )(x);
      return g.sum().dataSync()[0];
    });
  step();
  const tensors = tf.memory().numTensors, dataIds = backend.numDataIds();
  for (let i = 0; i < 50; i++) step();
  assertEquals(tf.memory().numTensors, tensors);
  assertEquals(backend.numDataIds(), dataIds);
  // The filter and its flipped copy each keep their 16 transformed matrices.
  assertEquals(tensorsWithDerivedData(), derivedBefore + 2);
  k.dispose();
  assertEquals(tensorsWithDerivedData(), derivedBefore);
  assertEquals(backend.numDataIds(), dataIds - 1 - 16 - 1 - 16);
  x.dispose();
});
