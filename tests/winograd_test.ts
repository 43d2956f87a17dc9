import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, relativeError } from "./assert.ts";
import { matchesWithAndWithoutJob } from "./job_paths.ts";
import { initBackend } from "../src/backend/init.ts";
import {
  allowWinogradF6,
  tilesPerChunk,
  transformFilter,
  transformFilter4,
  transformFilter6,
  useOwnWinogradProducts,
  useSimdFilterTransforms,
  useWinogradTile,
  winogradPlan,
  winogradTransforms,
} from "../src/backend/winograd.ts";
import { useSimdKernels } from "../src/backend/simd_module.ts";
import { useSimdHelpers } from "../src/backend/simd_jobs.ts";
import { conv2d } from "./fixtures/reference_forward.ts";
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
  // F(6×6) (input channels a multiple of 4, output of 8) with partial tiles.
  { x: [2, 13, 14, 32], co: 48, pad: [[0, 0], [1, 2], [2, 1], [0, 0]] },
  { x: [1, 20, 19, 32], co: 32, pad: "same" },
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
    // The JS transforms (F(2×2) only), then the SIMD module with each tile
    // size, its products on XNNPACK or in its own jobs, with and without
    // the helper threads.
    const settings = [
      [false, 2, false, true],
      [true, 2, false, true],
      [true, 4, false, true],
      [true, 2, true, true],
      [true, 4, true, true],
      [true, 4, true, false],
      [true, 6, true, true],
      [true, 6, true, false],
    ] as const;
    try {
      for (const [simd, tile, own, helpers] of settings) {
        useSimdKernels(simd);
        useWinogradTile(tile);
        useOwnWinogradProducts(own);
        useSimdHelpers(helpers);
        const actual = run(c, 10 * i + 1);
        // F(6×6)'s rounding is 1.4–2× F(4×4)'s (measured up to 1.05e-5 here).
        const tolerance = tile === 6 ? 2e-5 : 1e-5;
        for (const [j, name] of ["conv2d", "fused conv2d + relu", "input gradient"].entries()) {
          assertEquals(actual[j].length, expected[j].length);
          const error = relativeError(actual[j], expected[j]);
          assert(
            error <= tolerance,
            `${name} ${
              JSON.stringify(c)
            } simd=${simd} own=${own} helpers=${helpers} F(${tile}×${tile}): relative error ${error}`,
          );
        }
      }
    } finally {
      useSimdKernels(true);
      useWinogradTile(undefined);
      useOwnWinogradProducts(true);
      useSimdHelpers(true);
    }
  }
});

Deno.test("F(6×6) or F(4×4) is chosen where it does enough fewer multiply-adds, F(2×2) elsewhere", () => {
  const info = (shape: number[]) => ({ shape, dtype: "float32" as const, dataId: {} });
  const tile = (size: number, inC: number, outC: number, batch = 1) =>
    winogradPlan(info([batch, size, size, inC]), info([3, 3, inC, outC]), {
      strides: 1,
      pad: "same",
    })?.tile;
  // Products with rows in blocks of 4, F(6×6) against F(4×4) (or F(2×2)),
  // and F(6×6)'s measured time against the next best, forward + input
  // gradient (see F6_MAX_SHARE_OF_F4).
  assertEquals(tile(150, 64, 64), 6); // block1: 628 × 64 vs 1444 × 36 (0.77); 0.81×
  assertEquals(tile(150, 64, 64, 16), 6);
  assertEquals(tile(75, 128, 128), 6); // block2: 172 × 64 vs 364 × 36 (0.84); 0.84×
  assertEquals(tile(37, 256, 256), 4); // block3: 52 × 64 vs 100 × 36 (0.92); 0.97×
  assertEquals(tile(18, 512, 512), 6); // block4: 12 × 64 vs 28 × 36 (0.76)
  assertEquals(tile(9, 512, 512), 2); // block5: F(4×4) 12 × 36 vs F(2×2) 28 × 16, too small a saving
  assertEquals(tile(28, 256, 512), 4); // 28 × 64 vs 52 × 36 (0.96); 1.07×
  assertEquals(tile(14, 512, 512), 4); // 12 × 64 vs 16 × 36 (1.33); 1.46×
  // 32 → 64 channels (21 multiply-adds per transformed value): F(6×6) only in
  // batches (1.03× F(4×4)'s time at batch 1, 0.85× at batch 32).
  assertEquals(tile(72, 32, 64), 4);
  assertEquals(tile(72, 32, 64, 32), 6);
  // Equal products pay at batch 32 (the book convnet's conv2d_4: 0.80×).
  assertEquals(tile(15, 128, 128), 4);
  assertEquals(tile(15, 128, 128, 32), 6);
  assertEquals(tile(72, 33, 64), 2); // channels not a multiple of 4
  assertEquals(tile(72, 36, 60), 4); // output channels not a multiple of 8: no F(6×6)
  allowWinogradF6(false);
  assertEquals(tile(18, 512, 512), 4);
  allowWinogradF6(true);
});

Deno.test("F(4×4) and F(6×6) in passes of tiles match the cpu backend", async () => {
  // 3 × 17² F(4×4) or 3 × 11² F(6×6) tiles: two passes, the last one short.
  const shape: [number, number, number, number] = [3, 66, 66, 64];
  const conv = () =>
    tf.tidy(() => {
      const x = tf.randomNormal(shape, 0, 1, "float32", 3) as tf.Tensor4D;
      const k = tf.randomNormal([3, 3, 64, 64], 0, 0.1, "float32", 4) as tf.Tensor4D;
      const b = tf.randomNormal([64], 0, 1, "float32", 5) as tf.Tensor1D;
      return tf.fused.conv2d({ x, filter: k, bias: b, activation: "relu", strides: 1, pad: "same" })
        .dataSync() as Float32Array;
    });
  await tf.setBackend("cpu");
  const expected = conv();
  await tf.setBackend("wasm");
  // Equal passes: VGG16's 18² layer at batch 8 (72 F(6×6) tiles of 512
  // channels) in two of 36, not 64 and 8.
  assertEquals(tilesPerChunk(512, 512, 72, 64, true), 36);
  assertEquals(tilesPerChunk(512, 512, 72, 64, false), 72);
  for (const tile of [4, 6] as const) {
    const tiles = 3 * Math.ceil(66 / tile) ** 2;
    const chunk = tilesPerChunk(64, 64, tiles, (tile + 2) ** 2, true);
    assert(chunk < tiles && tiles % chunk !== 0, `F(${tile}×${tile}): passes of ${chunk}`);
    useWinogradTile(tile);
    const actual = conv();
    useWinogradTile(undefined);
    // F(6×6)'s rounding is 1.4–2× F(4×4)'s (1.1e-5 measured here).
    assert(
      relativeError(actual, expected) <= (tile === 6 ? 2e-5 : 1e-5),
      `F(${tile}×${tile}): relative error ${relativeError(actual, expected)}`,
    );
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
  useWinogradTile(2);
  useSimdKernels(false); // one pass over all tiles
  const whole = conv();
  useSimdKernels(true);
  const inPasses = conv();
  useWinogradTile(undefined);
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
  // The filter and its flipped copy each keep their 36 transformed matrices
  // (F(4×4, 3×3) at 20×20), in one buffer of panels for the batched products.
  assertEquals(tensorsWithDerivedData(), derivedBefore + 2);
  k.dispose();
  assertEquals(tensorsWithDerivedData(), derivedBefore);
  assertEquals(backend.numDataIds(), dataIds - 1 - 1 - 1 - 1);
  x.dispose();
});

Deno.test("Winograd's rounding against a float64 direct convolution, on the trained book convnet", async () => {
  const { loadBookModel } = await import("../src/models/book_model.ts");
  const { loadImage } = await import("../src/image/load.ts");
  const { setWinogradConvolutions } = await import("../src/backend/winograd.ts");
  const model = await loadBookModel();
  const picture = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
  const image = tf.tidy(() => tf.div(picture, 255).expandDims(0));
  // conv2d_2…4 at their real sizes (74², 36², 17² inputs), on the real activations.
  for (const layer of model.layers.filter((l) => l.getClassName() === "Conv2D").slice(1)) {
    const x = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor })
      .predict(image) as tf.Tensor4D;
    const k = layer.getWeights()[0] as tf.Tensor4D;
    const [, h, w, c] = x.shape;
    const reference = conv2d(
      { data: Float64Array.from(x.dataSync()), shape: [h, w, c] },
      k.dataSync(),
      k.shape,
      null,
      "valid",
    ).data;
    let scale = 0;
    for (const value of reference) scale = Math.max(scale, Math.abs(value));
    const errors: Record<string, number> = {};
    for (const tile of [0, 2, 4, 6] as const) {
      setWinogradConvolutions(tile !== 0);
      useWinogradTile(tile === 0 ? undefined : tile);
      const y = tf.tidy(() => tf.conv2d(x, k, 1, "valid").dataSync());
      let worst = 0;
      for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - reference[i]));
      errors[tile === 0 ? "direct" : `F(${tile}×${tile})`] = worst / scale;
    }
    setWinogradConvolutions(true);
    useWinogradTile(undefined);
    console.log(`${layer.name} ${x.shape}: largest error / largest output`, errors);
    // Measured: direct (XNNPACK) ≤ 6e-7, F(2×2) ≤ 5e-7, F(4×4) ≤ 2.6e-6,
    // F(6×6) ≤ 5.9e-6.
    assert(errors["F(2×2)"] <= 2e-6, `${layer.name}: F(2×2) ${errors["F(2×2)"]}`);
    assert(errors["F(4×4)"] <= 1e-5, `${layer.name}: F(4×4) ${errors["F(4×4)"]}`);
    assert(errors["F(6×6)"] <= 2e-5, `${layer.name}: F(6×6) ${errors["F(6×6)"]}`);
    tf.dispose(x);
  }
  tf.dispose([picture, image]);
  model.dispose();
});

Deno.test("first layers (1–4 input channels) run as convscope's job and match the cpu backend, edges and padding included", async () => {
  const { conv2DFewChannels, useFewChannelConvolutions } = await import(
    "../src/backend/few_channel_conv.ts"
  );
  // VGG16's block1_conv1 at 150² and 224², the book convnet's conv2d_1 in a
  // batch, a grey picture, and shapes whose rows end in partial blocks of 4
  // pixels or are narrower than one block.
  const cases: {
    x: [number, number, number, number];
    co: number;
    pad: "valid" | "same";
    bias: boolean;
    relu: boolean;
  }[] = [
    { x: [1, 150, 150, 3], co: 64, pad: "same", bias: true, relu: true },
    { x: [1, 224, 224, 3], co: 64, pad: "same", bias: true, relu: true },
    { x: [4, 150, 150, 3], co: 32, pad: "valid", bias: true, relu: true },
    { x: [3, 17, 23, 1], co: 8, pad: "same", bias: true, relu: false },
    { x: [2, 9, 7, 4], co: 16, pad: "valid", bias: false, relu: false },
    { x: [1, 5, 6, 2], co: 8, pad: "same", bias: false, relu: true },
    { x: [1, 3, 3, 3], co: 24, pad: "same", bias: true, relu: false },
    { x: [2, 3, 3, 3], co: 8, pad: "valid", bias: true, relu: true },
  ];
  const run = (c: (typeof cases)[number], seed: number) =>
    tf.tidy(() => {
      const x = tf.randomNormal(c.x, 0, 1, "float32", 70 + seed) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, c.x[3], c.co], 0, 0.3, "float32", 80 + seed) as tf.Tensor4D;
      const b = tf.randomNormal([c.co], 0, 0.5, "float32", 90 + seed);
      const y = c.bias || c.relu
        ? tf.fused.conv2d({
          x,
          filter: w,
          strides: 1,
          pad: c.pad,
          bias: c.bias ? b : undefined,
          activation: c.relu ? "relu" : "linear",
        })
        : tf.conv2d(x, w, 1, c.pad);
      return y.dataSync() as Float32Array;
    });
  for (const [i, c] of cases.entries()) {
    await tf.setBackend("wasm");
    // The case takes the job's path.
    tf.tidy(() => {
      const backend = tf.backend() as unknown as { disposeData(id: unknown): void };
      const taken = conv2DFewChannels(
        tf.zeros(c.x),
        tf.zeros([3, 3, c.x[3], c.co]),
        undefined,
        c.relu,
        { strides: 1, pad: c.pad },
        backend as never,
      );
      assert(taken, `${JSON.stringify(c)} takes the few-channel path`);
      backend.disposeData(taken.dataId);
    });
    await tf.setBackend("cpu");
    const expected = run(c, i);
    await tf.setBackend("wasm");
    matchesWithAndWithoutJob(
      JSON.stringify(c),
      expected,
      () => run(c, i),
      useFewChannelConvolutions,
    );
  }
  // An empty batch: an empty output, zero filter gradients, no error.
  tf.tidy(() => {
    const x = tf.zeros([0, 9, 9, 3]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 8]) as tf.Tensor4D;
    assertEquals(tf.conv2d(x, w, 1, "same").shape, [0, 9, 9, 8]);
    const dw = tf.grad((k: tf.Tensor) => tf.sum(tf.conv2d(x, k as tf.Tensor4D, 1, "same")))(w);
    assertEquals([...dw.dataSync()].every((v) => v === 0), true);
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.conv2d(xi as tf.Tensor4D, w, 1, "same")))(x);
    assertEquals(dx.shape, [0, 9, 9, 3]);
  });
});

Deno.test("filter transforms on the SIMD module (float32) match the JS ones (float64), F(2×2), F(4×4) and F(6×6), in panels", () => {
  const backend = tf.backend() as never as {
    disposeData(id: unknown): void;
    typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  };
  // The book convnet's conv2d_4, VGG16's block5, a first-layer-sized input
  // side and the smallest panel.
  for (const [ci, co] of [[128, 128], [512, 512], [3, 64], [1, 8]]) {
    const w = tf.randomNormal([3, 3, ci, co], 0, 0.1, "float32", ci + co);
    const f6 = (filter: tf.TensorInfo, b: never, _layout: "panels") => transformFilter6(filter, b);
    for (const transform of [transformFilter, transformFilter4, f6]) {
      const read = (on: boolean) => {
        useSimdFilterTransforms(on);
        try {
          const out = transform(w, backend as never, "panels");
          assertEquals(out.length, 1);
          const values = backend.typedArrayFromHeap(out[0]).slice();
          backend.disposeData(out[0].dataId);
          return values;
        } finally {
          useSimdFilterTransforms(true);
        }
      };
      const simd = read(true), js = read(false);
      assertEquals(simd.length, js.length);
      const error = relativeError(simd, js);
      assert(error <= 1e-6, `${transform.name} ${ci}→${co}: ${error}`);
    }
    w.dispose();
  }
});
