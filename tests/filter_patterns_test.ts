import {
  bookConvnet,
  deprocessImage,
  filterGrid,
  filterPatterns,
  initBackend,
  normalizeGradient,
  tf,
  vgg16,
} from "../mod.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./assert.ts";

await initBackend();

Deno.test("gradient normalisation: per-sample RMS (1st ed.) and L2 (2nd ed.)", () => {
  const g = tf.tensor4d([3, 4, 0, 0, 1, 1, 1, 1], [2, 1, 2, 2]);
  const rms = normalizeGradient(g, "rms").arraySync() as number[][][][];
  // Sample 0: sqrt(mean([9, 16, 0, 0])) = 2.5; sample 1: 1.
  assertAlmostEquals(rms[0][0][0][0], 3 / (2.5 + 1e-5), 1e-6);
  assertAlmostEquals(rms[1][0][1][1], 1 / (1 + 1e-5), 1e-6);
  const l2 = normalizeGradient(g, "l2").arraySync() as number[][][][];
  assertAlmostEquals(l2[0][0][0][1], 0.8, 1e-6);
  assertAlmostEquals(l2[1][0][0][0], 0.5, 1e-6);
  g.dispose();
});

Deno.test("deprocess: the book's (x - mean) / (std + 1e-5) * 0.1 + 0.5, clipped, × 255, truncated", () => {
  const x = tf.tensor4d([0, 10, 20, 30], [1, 2, 2, 1]);
  const mean = 15, std = Math.sqrt(125);
  const expected = [0, 10, 20, 30].map((v) =>
    Math.floor(Math.min(1, Math.max(0, (v - mean) / (std + 1e-5) * 0.1 + 0.5)) * 255)
  );
  assertEquals([...deprocessImage(x).dataSync()], expected);
  x.dispose();
});

Deno.test("gradient ascent increases the target filter's mean activation", async () => {
  const model = vgg16({ includeTop: false, seed: 3 });
  const mean = (x: tf.Tensor) =>
    tf.tidy(() => {
      const out = tf.model({ inputs: model.inputs, outputs: model.getLayer("block2_conv1").output })
        .predict(x) as tf.Tensor;
      return tf.mean(tf.slice(out, [0, 0, 0, 5], [-1, -1, -1, 1])).dataSync()[0];
    });
  const start = tf.randomUniform([1, 48, 48, 3], 128, 148, "float32", 5 * 100_003 + 5);
  const raw = await filterPatterns(model, "block2_conv1", [5], {
    inputSize: 48,
    steps: 10,
    seed: 5,
    deprocess: "none",
  });
  const before = mean(start), after = mean(raw);
  assert(after > before * 2 + 1e-3, `activation went from ${before} to ${after}`);
  tf.dispose([start, raw]);
});

Deno.test("batched ascent gives the same pixels as one filter at a time, and chunking changes nothing", async () => {
  const model = bookConvnet();
  const filters = [0, 3, 7, 12];
  const opts = { inputSize: 150, steps: 5, seed: 11 };
  const batched = await filterPatterns(model, "conv2d_2", filters, opts);
  const chunked = await filterPatterns(model, "conv2d_2", filters, { ...opts, batchSize: 3 });
  const single = await Promise.all(
    filters.map((f) => filterPatterns(model, "conv2d_2", [f], opts)),
  );
  const joined = tf.concat(single, 0);
  const diff = (a: tf.Tensor, b: tf.Tensor) =>
    tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
  // Pixels are integers 0–255; float sums in another batch layout may move one by a level.
  assert(diff(batched, joined) <= 1, `batched vs single differ by ${diff(batched, joined)}`);
  assertEquals(diff(batched, chunked), 0);
  tf.dispose([batched, chunked, joined, ...single]);
});

Deno.test("bad layer names and filter indices are named in the error", async () => {
  const model = bookConvnet();
  await assertRejects(() => filterPatterns(model, "conv2d_9", [0]), 'No layer named "conv2d_9"');
  await assertRejects(
    () => filterPatterns(model, "conv2d_1", [32]),
    'Filter 32 is out of range: layer "conv2d_1" has 32 filters',
  );
  await assertRejects(() => filterPatterns(model, "dense_1", [0]), "not feature maps");
});

Deno.test("1,000 ascent steps keep the tensor count flat; abort returns what was reached", async () => {
  const model = bookConvnet();
  const before = tf.memory().numTensors;
  let steps = 0;
  let during = 0;
  const out = await filterPatterns(model, "conv2d_1", [1], {
    inputSize: 150,
    steps: 1000,
    onStep: () => {
      steps++;
      if (steps === 1) during = tf.memory().numTensors;
      else assertEquals(tf.memory().numTensors, during, `step ${steps}`);
    },
  });
  assertEquals(steps, 1000);
  out.dispose();
  assertEquals(tf.memory().numTensors, before);
  const controller = new AbortController();
  const partial = await filterPatterns(model, "conv2d_1", [1], {
    steps: 1000,
    signal: controller.signal,
    onStep: (step) => step === 9 && controller.abort(),
  });
  assertEquals(partial.shape, [1, 150, 150, 3]);
  partial.dispose();
  assertEquals(tf.memory().numTensors, before);
  // Timers still run between steps: a timeout aborts a run of a million steps.
  const started = performance.now();
  let ran = 0;
  const timedOut = await filterPatterns(model, "conv2d_1", [1], {
    inputSize: 32,
    steps: 1_000_000,
    signal: AbortSignal.timeout(300),
    onStep: () => ran++,
  });
  const seconds = (performance.now() - started) / 1000;
  assert(seconds < 5 && ran < 1_000_000, `${ran} steps in ${seconds} s`);
  timedOut.dispose();
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("Lucid's Fourier parameterisation: valid images, and the ascent raises the activation", async () => {
  const { fourierImage, rotateDifferentiable } = await import("../src/methods/fourier.ts");
  const param = fourierImage(2, 32, 32, 1);
  const img = param.render();
  assertEquals(img.shape, [2, 32, 32, 3]);
  assert(img.min().dataSync()[0] > 0 && img.max().dataSync()[0] < 1);
  tf.dispose([img]);
  param.dispose();
  // The differentiable rotation is the identity at 0 and keeps a constant image constant.
  const flat = tf.fill([1, 9, 9, 3], 0.5) as tf.Tensor4D;
  assertAlmostEquals(
    tf.max(tf.abs(tf.sub(rotateDifferentiable(flat, 0.2, 0.5), flat))).dataSync()[0],
    0,
    1e-5,
  );
  const model = vgg16({ includeTop: false, seed: 5 });
  const losses: number[] = [];
  const tensorsBefore = tf.memory().numTensors;
  const out = await filterPatterns(model, "block1_conv2", [3], {
    inputSize: 48,
    steps: 40,
    parameterization: "fourier",
    inputRange: [-120, 135],
    onStep: (step, loss) => step >= 16 && losses.push(loss),
  });
  assertEquals(out.shape, [1, 48, 48, 3]);
  assertEquals(out.dtype, "int32");
  assert(losses.at(-1)! > losses[0], `activation went from ${losses[0]} to ${losses.at(-1)}`);
  // Only the result is left (the spectrum's starting values leaked once).
  assertEquals(tf.memory().numTensors, tensorsBefore + 1);
  tf.dispose([out, flat]);
});

Deno.test("the book's noise and step are scaled into the model's input range, which saveModel keeps", async () => {
  const { loadModel, modelInputRange, saveModel, setModelInputRange } = await import("../mod.ts");
  const model = bookConvnet({ seed: 4 });
  const start = async (opts: object) => {
    const x = await filterPatterns(model, "conv2d_1", [0], {
      inputSize: 32,
      steps: 0,
      deprocess: "none",
      ...opts,
    });
    const [min, max] = [x.min().dataSync()[0], x.max().dataSync()[0]];
    x.dispose();
    return [min, max];
  };
  // Without a recorded range: the book's 0–255 recipe, noise in [128, 148].
  const [lo255, hi255] = await start({});
  assert(lo255 >= 128 && hi255 <= 148 && hi255 - lo255 > 15, `${lo255}..${hi255}`);
  // A model trained on pixels / 255: the same noise in [0.502, 0.580].
  setModelInputRange(model, [0, 1]);
  const [lo1, hi1] = await start({});
  assert(lo1 >= 128 / 255 && hi1 <= 148 / 255 && hi1 - lo1 > 15 / 255, `${lo1}..${hi1}`);
  // An explicit range wins over the model's.
  const [loX] = await start({ inputRange: [0, 255] });
  assert(loX >= 128);
  // One step moves pixels by about one pixel level of that range (RMS-normalised).
  const a = await filterPatterns(model, "conv2d_1", [0], {
    inputSize: 32,
    steps: 0,
    deprocess: "none",
  });
  const b = await filterPatterns(model, "conv2d_1", [0], {
    inputSize: 32,
    steps: 1,
    deprocess: "none",
  });
  const rms = Math.sqrt(tf.tidy(() => tf.mean(tf.square(tf.sub(b, a)))).dataSync()[0]);
  // (The book's + 1e-5 in the RMS shrinks steps a little when gradients are tiny.)
  assertAlmostEquals(rms, 1 / 255, 0.1 / 255);
  tf.dispose([a, b]);
  const dir = await Deno.makeTempDir();
  await saveModel(model, dir);
  const loaded = await loadModel(dir);
  assertEquals(modelInputRange(loaded), [0, 1]);
  loaded.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a filter that never fires after its ReLU: noise with the 1st edition's objective, a pattern before the ReLU", async () => {
  const model = bookConvnet({ seed: 5 });
  const [kernel, bias] = model.getLayer("conv2d_1").getWeights();
  // Filters 2 and 3 can never fire on inputs near grey: a bias far below any response.
  const b = bias.arraySync() as number[];
  b[2] = b[3] = -1e4;
  model.getLayer("conv2d_1").setWeights([kernel, tf.tensor1d(b)]);
  const run = async (objective: "pre-activation" | "post-activation") => {
    const finals: number[] = [];
    const moved: number[] = [];
    const fig = await filterGrid(model, "conv2d_1", {
      filters: 4,
      cols: 2,
      inputSize: 32,
      steps: 12,
      objective,
      onFinalActivations: (_, means, change) => {
        finals.push(...means);
        moved.push(...change);
      },
    });
    return { fig, finals, moved };
  };
  const after = await run("post-activation");
  // After the ReLU, filters 2 and 3 are zero everywhere: no gradient, not moved at all.
  assertEquals(after.finals.map((v) => v === 0), [false, false, true, true]);
  assertEquals(after.moved.map((v) => v === 0), [false, false, true, true]);
  // Before the ReLU every filter has a gradient: each moves by more than the start noise
  // (RMS 20/√12 ≈ 5.8 pixel levels) in 12 steps of one level.
  const before = await run("pre-activation");
  assert(before.moved.every((v) => v > 20 / Math.sqrt(12)), `moved ${before.moved}`);
  // Only the first grid has a caption ("2/4 tiles still noise"): one more line.
  assertEquals(after.fig.height - before.fig.height, 23);
});

Deno.test("the 2nd edition's deprocess: (x − mean) / std · 64 + 128 over the whole image, then the crop", async () => {
  const model = bookConvnet({ seed: 3 });
  const opts = { inputSize: 40, steps: 2, seed: 5, initRange: [0.4, 0.6] as [number, number] };
  const raw = await filterPatterns(model, "conv2d_1", [1], { ...opts, deprocess: "none" });
  const shown = await filterPatterns(model, "conv2d_1", [1], {
    ...opts,
    deprocess: "2nd-edition",
    crop: 5,
  });
  assertEquals(shown.shape, [1, 30, 30, 3]);
  const expected = tf.tidy(() => {
    const { mean, variance } = tf.moments(raw);
    const z = tf.add(tf.mul(tf.div(tf.sub(raw, mean), tf.add(tf.sqrt(variance), 1e-5)), 64), 128);
    return tf.slice(tf.floor(tf.clipByValue(z, 0, 255)), [0, 5, 5, 0], [-1, 30, 30, -1]).dataSync();
  });
  const got = shown.dataSync();
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
  assert(worst <= 1, `largest difference ${worst} levels`);
  tf.dispose([raw, shown]);
  model.dispose();
});

Deno.test("a convolution narrowed to the filters an ascent reads gives those filters' values and input gradients", async () => {
  const { canNarrowFilters, narrowFilters } = await import("../src/models/nested.ts");
  const model = vgg16({ includeTop: false, inputShape: [64, 64, 3] });
  const layer = model.getLayer("block2_conv1");
  const sub = tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
  assert(canNarrowFilters(layer, 2) && !canNarrowFilters(layer, 128));
  assert(!canNarrowFilters(model.getLayer("block2_pool"), 1));
  const softmax = tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: "softmax" });
  softmax.apply(tf.input({ shape: [8, 8, 3] }));
  assert(!canNarrowFilters(softmax, 1), "a softmax across channels needs them all");
  const x = tf.randomUniform([2, 64, 64, 3], 0, 150, "float32", 7);
  const filters = [77, 3];
  const mask = tf.oneHot(tf.tensor1d(filters, "int32"), 128).reshape([2, 1, 1, 128]);
  const narrowed = narrowFilters(layer, filters);
  const [full, narrow, fullGrad, narrowGrad] = tf.tidy(() => [
    tf.gather(sub.predict(x) as tf.Tensor, filters, 3),
    narrowed.run(() => sub.predict(x) as tf.Tensor),
    tf.grad((i: tf.Tensor) => tf.sum(tf.mul(sub.apply(i) as tf.Tensor, mask)))(x),
    tf.grad((i: tf.Tensor) =>
      narrowed.run(() => tf.sum(tf.mul(sub.apply(i) as tf.Tensor, tf.eye(2).reshape([2, 1, 1, 2]))))
    )(x),
  ]);
  const relative = (a: tf.Tensor, b: tf.Tensor) =>
    tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
  assertEquals(narrow.shape, [2, 32, 32, 2]);
  assert(relative(narrow, full) <= 1e-5, `values ${relative(narrow, full)}`);
  assert(relative(narrowGrad, fullGrad) <= 1e-5, `gradients ${relative(narrowGrad, fullGrad)}`);
  // The layer is whole again afterwards.
  assertEquals(tf.tidy(() => (sub.predict(x) as tf.Tensor).shape), [2, 32, 32, 128]);
  narrowed.dispose();
  tf.dispose([x, mask, full, narrow, fullGrad, narrowGrad]);
  model.dispose();
});
