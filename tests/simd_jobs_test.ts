import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, relativeError } from "./assert.ts";
import { initBackend } from "../src/backend/init.ts";
import { batchedProducts, toPanels, useSimdHelpers, WaitClock } from "../src/backend/simd_jobs.ts";
import { simdKernels, useRelaxedSimd } from "../src/backend/simd_module.ts";
import type { WasmBackendLike } from "../src/backend/kernel_registry.ts";

const info = await initBackend();

// The shapes the Winograd path hands over for VGG16 at 150² (batch 1) and the
// book convnet at batch 32: [products, tiles (M), Cin (K), Cout (N)], with
// tile counts that leave 1, 2 and 3 rows past the last block of four.
const shapes: [number, number, number, number][] = [
  [36, 455, 64, 64], // block1_conv2, one pass of F(4×4)
  [36, 361, 128, 128], // block2_conv2
  [36, 100, 256, 256], // block3_conv2
  [36, 25, 512, 512], // block4_conv2
  [16, 25, 512, 512], // block5_conv1, F(2×2)
  [36, 258, 32, 64], // conv2d_2 of the book convnet, a pass at batch 32
  [16, 3, 40, 8], // tiny: three rows, no block of four
];

/** `count` products through `batchedProducts`, checked against tfjs's matMul on cpu. */
async function check(
  [count, M, K, N]: [number, number, number, number],
  label: string,
): Promise<void> {
  const a = tf.randomNormal([count, M, K], 0, 1, "float32", 1);
  const b = tf.randomNormal([count, K, N], 0, 1, "float32", 2);
  const bValues = b.dataSync();
  const panels = toPanels(bValues, count, K, N);
  const aValues = a.dataSync();
  await tf.setBackend("cpu");
  const expected = tf.tidy(() =>
    tf.matMul(tf.tensor3d(aValues, [count, M, K]), tf.tensor3d(bValues, [count, K, N]))
      .dataSync() as Float32Array
  );
  await tf.setBackend("wasm");
  const backend = tf.backend() as unknown as WasmBackendLike;
  const simd = simdKernels(backend);
  assert(simd, "the SIMD module loads");
  const bPacked = tf.tensor(panels);
  const c = tf.fill([count, M, N], Number.NaN);
  batchedProducts(simd, backend, a, bPacked, c, count, M, K, N);
  const actual = c.dataSync() as Float32Array;
  const error = relativeError(actual, expected);
  assert(error <= 2e-6, `${label} ${[count, M, K, N]}: relative error ${error}`);
  tf.dispose([a, b, bPacked, c]);
}

Deno.test("batched products at the Winograd path's real sizes match cpu: helpers on and off, relaxed and plain SIMD", async () => {
  console.log(`  backend: ${JSON.stringify(info)}`);
  for (const relaxed of [true, false]) {
    useRelaxedSimd(relaxed);
    const simd = simdKernels(tf.backend() as unknown as WasmBackendLike)!;
    console.log(
      `  ${relaxed ? "relaxed" : "plain"} SIMD asked, relaxed build loaded: ${simd.relaxed}`,
    );
    if (!relaxed) assertEquals(simd.relaxed, false);
    for (const helpers of [true, false]) {
      useSimdHelpers(helpers);
      for (const shape of shapes) await check(shape, `relaxed=${relaxed} helpers=${helpers}`);
    }
  }
  useRelaxedSimd(true);
  useSimdHelpers(true);
});

Deno.test("batched products: N must fill panels of 8", () => {
  const backend = tf.backend() as unknown as WasmBackendLike;
  const simd = simdKernels(backend)!;
  const a = tf.zeros([1, 4, 4]), b = tf.zeros([1, 4, 6]), c = tf.zeros([1, 4, 6]);
  let message = "";
  try {
    batchedProducts(simd, backend, a, b, c, 1, 4, 4, 6);
  } catch (error) {
    message = (error as Error).message;
  }
  assert(message.includes("multiple of 8"), message);
  tf.dispose([a, b, c]);
});

Deno.test("batched products: 2,000 calls leave the WASM heap and the buffers flat", () => {
  const backend = tf.backend() as unknown as WasmBackendLike & { numDataIds(): number };
  const simd = simdKernels(backend)!;
  const a = tf.randomNormal([16, 25, 64]), b = tf.randomNormal([16, 64, 64]);
  const c = tf.zeros([16, 25, 64]);
  const memory = simd.memory;
  batchedProducts(simd, backend, a, b, c, 16, 25, 64, 64);
  const heap = memory.buffer.byteLength, buffers = backend.numDataIds();
  for (let i = 0; i < 2000; i++) batchedProducts(simd, backend, a, b, c, 16, 25, 64, 64);
  assertEquals(memory.buffer.byteLength, heap);
  assertEquals(backend.numDataIds(), buffers);
  tf.dispose([a, b, c]);
});

Deno.test("the wait for the helpers fails after 30 s of waiting, but starts over after the process was suspended", () => {
  // Waiting without a break: spin, then sleep, then give up.
  const steady = new WaitClock(0);
  assertEquals(steady.next(0.1), "spin");
  assertEquals(steady.next(1), "sleep");
  let action = "";
  for (let t = 2; t <= 31_000 && action !== "timeout"; t += 1) action = steady.next(t);
  assertEquals(action, "timeout");
  // The same 31 s of clock time with the process stopped for 25 s of it (a
  // SIGSTOP during a job): the wait restarts when the process resumes.
  const suspended = new WaitClock(0);
  for (let t = 1; t <= 5000; t++) assertEquals(suspended.next(t), "sleep");
  assertEquals(suspended.next(30_000), "spin");
  for (let t = 30_001; t <= 31_000; t++) assert(suspended.next(t) !== "timeout");
});

Deno.test("jobs keep running past 2^15 and 2^16 of them in one process (the generation wraps)", () => {
  // The training stopped after 32,768 jobs once: a generation of 2^15 made
  // the claim word negative and no unit could be claimed.
  const backend = tf.backend() as unknown as WasmBackendLike;
  const simd = simdKernels(backend)!;
  const a = tf.ones([2, 4, 8]), b = tf.ones([2, 8, 8]), c = tf.zeros([2, 4, 8]);
  for (let i = 0; i < 70_000; i++) batchedProducts(simd, backend, a, b, c, 2, 4, 8, 8);
  assertEquals([...c.dataSync()], new Array(64).fill(8));
  tf.dispose([a, b, c]);
});
