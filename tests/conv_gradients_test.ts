import * as tf from "@tensorflow/tfjs";
import { wasmHeapBytes } from "./heap.ts";
import { assert, assertEquals, relativeError } from "./assert.ts";
import { matchesWithAndWithoutJob } from "./job_paths.ts";
import { useSimdHelpers } from "../src/backend/simd_jobs.ts";
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

/** Wide inputs whose filter gradient is split into bands of rows (filterGradientBandRows). */
const BANDED_CASES: Case[] = [
  { n: 4, h: 23, w: 300, ci: 3, co: 4, k: [3, 3], stride: 1, pad: "valid" },
  { n: 4, h: 29, w: 300, ci: 2, co: 3, k: [3, 3], stride: 2, pad: "same" },
  {
    n: 3,
    h: 31,
    w: 340,
    ci: 2,
    co: 2,
    k: [5, 3],
    stride: [2, 1],
    pad: [[0, 0], [1, 2], [0, 1], [
      0,
      0,
    ]],
  },
];

Deno.test("the filter gradient of wide inputs is computed in several bands", async () => {
  const { filterGradientBandRows } = await import("../src/backend/conv_gradients.ts");
  for (const c of BANDED_CASES) {
    const outH = Math.ceil(c.h / (Array.isArray(c.stride) ? c.stride[0] : c.stride));
    assert(filterGradientBandRows(c.w, c.n, outH) < outH - 2, JSON.stringify(c));
  }
});

Deno.test(`conv2d gradients on wasm (${info.threads} threads) match the cpu backend`, async () => {
  const r = rng(7);
  for (const c of [...randomCases(60, 1234), ...BANDED_CASES]) {
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
    assert(relativeError(wx, cx) <= 1e-4, `input gradient ${relativeError(wx, cx)} for ${label}`);
    assert(relativeError(ww, cw) <= 1e-4, `filter gradient ${relativeError(ww, cw)} for ${label}`);
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

Deno.test("max-pool gradient on wasm matches the cpu backend, ties and padding included", async () => {
  const r = rng(99);
  const cases: [
    number[],
    number | [number, number],
    number | [number, number],
    "valid" | "same",
  ][] = [
    [[2, 8, 8, 3], 2, 2, "valid"],
    [[2, 9, 7, 3], 2, 2, "valid"],
    // SIMD vectors of 4 channels and a tail; VGG16's first pooling at 150².
    [[2, 9, 8, 6], 2, 2, "valid"],
    [[1, 150, 150, 64], 2, 2, "valid"],
    [[1, 9, 7, 5], 3, 2, "same"],
    [[1, 6, 6, 2], [2, 3], [1, 2], "valid"],
    [[3, 5, 5, 4], 2, 1, "same"],
  ];
  for (const [shape, size, stride, pad] of cases) {
    // Quantised values make ties common; the first maximum must win, as on cpu.
    const values = Float32Array.from(
      { length: shape.reduce((a, b) => a * b) },
      () => Math.floor(r() * 4),
    );
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(values, shape as [number, number, number, number]);
        const g = tf.grad((t: tf.Tensor) => {
          const y = tf.maxPool(t as tf.Tensor4D, size, stride, pad);
          return tf.sum(tf.mul(y, tf.range(1, y.size + 1).reshape(y.shape)));
        })(x);
        return g.dataSync() as Float32Array;
      });
    await tf.setBackend("cpu");
    const expected = run();
    await tf.setBackend("wasm");
    assertEquals([...run()], [...expected], JSON.stringify([shape, size, stride, pad]));
  }
});

Deno.test("flipped filters are cached per weight buffer and freed with it; training leaks nothing", async () => {
  const { tensorsWithDerivedData } = await import("../src/backend/kernel_registry.ts");
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 4, kernelSize: 3, activation: "relu" }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: "relu" }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1, activation: "sigmoid" }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: "binaryCrossentropy" });
  const x = tf.randomNormal([8, 12, 12, 3]);
  const y = tf.ones([8, 1]);
  const losses: number[] = [];
  await model.trainOnBatch(x, y);
  const tensors = tf.memory().numTensors;
  const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
  for (let i = 0; i < 30; i++) losses.push(await model.trainOnBatch(x, y) as number);
  assertEquals(tf.memory().numTensors, tensors);
  assertEquals((tf.backend() as unknown as { numDataIds(): number }).numDataIds(), dataIds);
  // Only the second conv's input gradient is needed: one live flipped filter at most.
  assert(tensorsWithDerivedData() <= 1, `${tensorsWithDerivedData()} cached`);
  assert(losses.at(-1)! < losses[0], `loss went from ${losses[0]} to ${losses.at(-1)}`);
  tf.dispose([x, y]);
  model.dispose();
  assertEquals(tensorsWithDerivedData(), 0);
});

Deno.test("BatchMatMul on wasm with transposed operands matches the cpu backend", async () => {
  const r = rng(7);
  const cases: [number[], number[], boolean, boolean][] = [
    [[32, 300], [32, 40], true, false], // dense dW = xᵀ·dy
    [[32, 40], [300, 40], false, true], // dense dx = dy·Wᵀ, n > m
    [[50, 40], [7, 40], false, true], // n < m
    [[40, 6], [9, 40], true, true],
    [[2, 5, 4], [2, 5, 3], true, false], // batched: the stock kernel
    [[6, 4], [4, 5], false, false],
  ];
  for (const [aShape, bShape, ta, tb] of cases) {
    const a = Float32Array.from({ length: aShape.reduce((p, q) => p * q) }, () => r() - 0.5);
    const b = Float32Array.from({ length: bShape.reduce((p, q) => p * q) }, () => r() - 0.5);
    const run = () =>
      tf.tidy(() =>
        tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), ta, tb).dataSync() as Float32Array
      );
    await tf.setBackend("cpu");
    const expected = run();
    await tf.setBackend("wasm");
    const got = run();
    assertEquals(got.length, expected.length);
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
    assert(worst <= 1e-4, `${JSON.stringify([aShape, bShape, ta, tb])}: ${worst}`);
  }
});

/**
 * `a · b` (b transposed or not) for each case, on random values from `r`:
 * the job's path is taken (`path` answers), and the result matches the cpu
 * backend's with the job, without its helpers and without the job.
 */
async function productJobMatchesCpu(
  cases: [number[], number[]][],
  transposeB: boolean,
  path: (
    a: tf.TensorInfo,
    b: tf.TensorInfo,
    attrs: { transposeA: boolean; transposeB: boolean },
    backend: never,
  ) => tf.TensorInfo | undefined,
  useJob: (on: boolean) => void,
  r: () => number,
  pathName: string,
): Promise<void> {
  for (const [aShape, bShape] of cases) {
    const a = Float32Array.from({ length: aShape.reduce((p, q) => p * q) }, () => r() - 0.5);
    const b = Float32Array.from({ length: bShape.reduce((p, q) => p * q) }, () => r() - 0.5);
    const run = () =>
      tf.tidy(() =>
        tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), false, transposeB)
          .dataSync() as Float32Array
      );
    await tf.setBackend("cpu");
    const expected = run();
    await tf.setBackend("wasm");
    tf.tidy(() => {
      const backend = tf.backend() as unknown as { disposeData(id: unknown): void };
      const taken = path(
        tf.tensor(a, aShape),
        tf.tensor(b, bShape),
        { transposeA: false, transposeB },
        backend as never,
      );
      assert(taken, `${JSON.stringify([aShape, bShape])} ${pathName}`);
      backend.disposeData(taken.dataId);
    });
    matchesWithAndWithoutJob(JSON.stringify([aShape, bShape]), expected, run, useJob);
  }
}

Deno.test("one row times a transposed matrix (a dense layer's input gradient at batch 1) runs as row dots and matches the cpu backend", async () => {
  const { rowTimesTransposed, useRowDots } = await import("../src/backend/matmul.ts");
  // VGG16's fc2 (fc1 is 411 MB: the same loop, longer), the book convnet's
  // dense layer, a row length that leaves 1–3 values past the vectors, and
  // rows shorter than one vector.
  const cases: [number[], number[]][] = [
    [[1, 4096], [4096, 4096]],
    [[1, 512], [6272, 512]],
    [[1, 37], [301, 37]],
    [[1, 1, 3], [1, 5, 3]],
  ];
  await productJobMatchesCpu(
    cases,
    true,
    rowTimesTransposed,
    useRowDots,
    rng(9),
    "runs as row dots",
  );
});

Deno.test("plain products of a batch (a dense layer's forward pass in training) read the weights in place and match the cpu backend", async () => {
  const { plainProductInPlace, useRowMajorProducts } = await import("../src/backend/matmul.ts");
  // The book convnet's dense_1 at batch 32, its 64-row and odd-row cases
  // (rows past the last block of 4), a batch-1 rank-3 product, and an inner
  // axis that is not a multiple of the 256-row chunks.
  const cases: [number[], number[]][] = [
    [[32, 6272], [6272, 512]],
    [[13, 6272], [6272, 512]],
    [[9, 1000], [1000, 264]],
    [[1, 10, 4099], [1, 4099, 64]],
  ];
  await productJobMatchesCpu(
    cases,
    false,
    plainProductInPlace,
    useRowMajorProducts,
    rng(10),
    "reads the weights in place",
  );
  // A picture or a few keep XNNPACK (fixed weights are packed once), and so
  // do widths that do not fill 8-column panels.
  tf.tidy(() => {
    const plain = { transposeA: false, transposeB: false };
    const backend = tf.backend() as never;
    assertEquals(
      plainProductInPlace(tf.zeros([1, 6272]), tf.zeros([6272, 512]), plain, backend),
      undefined,
    );
    assertEquals(
      plainProductInPlace(tf.zeros([32, 6272]), tf.zeros([6272, 100]), plain, backend),
      undefined,
    );
  });
  // Repeated, the job keeps no WASM heap.
  const before = wasmHeapBytes();
  for (let i = 0; i < 20; i++) {
    tf.tidy(() => tf.matMul(tf.ones([32, 1024]), tf.ones([1024, 512])).dataSync());
  }
  assertEquals(wasmHeapBytes(), before);
});

Deno.test("Sum on wasm over leading axes (bias gradients) and other axes matches the cpu backend", async () => {
  const r = rng(8);
  const shape = [4, 9, 7, 5];
  const values = Float32Array.from({ length: 4 * 9 * 7 * 5 }, () => r() - 0.5);
  const cases: [number[], boolean][] = [
    [[0, 1, 2], false],
    [[0, 1, 2], true],
    [[2, 0, 1], false],
    [[1, 2], false],
    [[3], true],
    [[0, 1, 2, 3], false],
  ];
  for (const [axes, keepDims] of cases) {
    const run = () =>
      tf.tidy(() => {
        const s = tf.sum(tf.tensor(values, shape), axes, keepDims);
        return { shape: s.shape, data: s.dataSync() as Float32Array };
      });
    await tf.setBackend("cpu");
    const expected = run();
    await tf.setBackend("wasm");
    const got = run();
    assertEquals(got.shape, expected.shape, JSON.stringify(axes));
    const worst = got.data.reduce((m, v, i) => Math.max(m, Math.abs(v - expected.data[i])), 0);
    assert(worst <= 1e-5, `${JSON.stringify([axes, keepDims])}: ${worst}`);
  }
});

Deno.test("Sum over leading axes (bias gradients) at training sizes is within float32 rounding of a float64 sum", async () => {
  await tf.setBackend("wasm");
  // The book convnet's conv2d_1 and conv2d_2 at batch 32, VGG16's block1 in a
  // 12-filter chunk, a dense layer's, odd channel counts (a 4-channel tail,
  // single channels), and fewer rows than one unit.
  const shapes = [
    [32, 148, 148, 32],
    [32, 72, 72, 64],
    [12, 150, 150, 64],
    [32, 512],
    [
      3,
      50,
      50,
      12,
    ],
    [7, 13, 5],
    [2, 3, 1],
  ];
  for (const shape of shapes) {
    const x = tf.randomNormal(shape, 0.5, 1, "float32", 3);
    const values = x.dataSync();
    const C = shape.at(-1)!;
    const exact = new Float64Array(C);
    for (let i = 0; i < values.length; i++) exact[i % C] += values[i];
    // Float32 rounding of the sum of |x| bounds the error of any summation
    // order with a few hundred rounding steps.
    const scale = new Float64Array(C);
    for (let i = 0; i < values.length; i++) scale[i % C] += Math.abs(values[i]);
    for (const helpers of [true, false]) {
      useSimdHelpers(helpers);
      const got = tf.tidy(() => tf.sum(x, shape.map((_, i) => i).slice(0, -1)).dataSync());
      assertEquals(got.length, C);
      for (let c = 0; c < C; c++) {
        const error = Math.abs(got[c] - exact[c]) / scale[c];
        assert(error <= 2e-6, `${shape} channel ${c} helpers=${helpers}: ${error}`);
      }
    }
    useSimdHelpers(true);
    x.dispose();
  }
});

Deno.test("Conv2D layers run fused with bias and ReLU under gradients on wasm, with the cpu's gradients", async () => {
  const build = () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [11, 11, 3],
          filters: 4,
          kernelSize: 3,
          activation: "relu",
        }),
        tf.layers.conv2d({
          filters: 5,
          kernelSize: 3,
          strides: 2,
          padding: "same",
          activation: "relu",
        }),
        tf.layers.conv2d({ filters: 2, kernelSize: 2, useBias: false }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 1 }),
      ],
    });
  const r = rng(5);
  const x = Float32Array.from({ length: 2 * 11 * 11 * 3 }, () => r() - 0.5);
  const run = (model: tf.Sequential) =>
    tf.tidy(() => {
      const input = tf.tensor4d(x, [2, 11, 11, 3]);
      const loss = () => tf.sum(model.apply(input) as tf.Tensor) as tf.Scalar;
      const dx = tf.grad((t: tf.Tensor) => tf.sum(model.apply(t) as tf.Tensor))(input);
      const { grads } = tf.variableGrads(loss);
      return [dx, ...model.trainableWeights.map((w) => grads[w.name])]
        .map((t) => t.dataSync() as Float32Array);
    });
  const wasmModel = build();
  const weights = wasmModel.getWeights().map((w) => w.dataSync().slice());
  const profile = await tf.profile(() => run(wasmModel));
  assert(profile.kernelNames.includes("ConvscopeFusedConv2D"), profile.kernelNames.join());
  assert(!profile.kernelNames.includes("Relu"), "ReLU ran unfused");
  const fused = run(wasmModel);
  await tf.setBackend("cpu");
  const cpuModel = build();
  cpuModel.setWeights(weights.map((w, i) => tf.tensor(w, wasmModel.getWeights()[i].shape)));
  const stock = run(cpuModel);
  await tf.setBackend("wasm");
  assertEquals(fused.length, 1 + 7);
  for (let i = 0; i < fused.length; i++) {
    assert(
      relativeError(fused[i], stock[i]) <= 1e-4,
      `gradient ${i}: ${relativeError(fused[i], stock[i])}`,
    );
  }
});

Deno.test("3×3 filter gradients as im2col products match the cpu backend at the book convnet's sizes", async () => {
  // conv2d_2–4 at their real sizes (batch 1), "same" padding, and channels
  // that are not a multiple of 4 (no SIMD); every case takes the im2col path.
  const { conv2DBackpropFilterIm2col, useWinogradFilterGradients } = await import(
    "../src/backend/conv_gradients.ts"
  );
  const cases: { x: [number, number, number, number]; co: number; pad: "valid" | "same" }[] = [
    { x: [1, 74, 74, 32], co: 64, pad: "valid" },
    { x: [1, 36, 36, 64], co: 128, pad: "valid" },
    { x: [1, 17, 17, 128], co: 128, pad: "valid" },
    { x: [2, 19, 18, 9], co: 37, pad: "same" },
    { x: [2, 13, 22, 16], co: 24, pad: "same" }, // SIMD inside, scalar at the borders
  ];
  const gradient = (c: (typeof cases)[number], seed: number) =>
    tf.tidy(() => {
      const filterShape = [3, 3, c.x[3], c.co] as [number, number, number, number];
      const x = tf.randomNormal(c.x, 0, 1, "float32", 100 + seed) as tf.Tensor4D;
      const k = tf.randomNormal(filterShape, 0, 0.1, "float32", 200 + seed) as tf.Tensor4D;
      const dy = tf.randomNormal(tf.conv2d(x, k, 1, c.pad).shape, 0, 1, "float32", 300 + seed);
      const attrs = { strides: 1, pad: c.pad, dataFormat: "NHWC", filterShape };
      if (tf.getBackend() === "wasm") {
        const backend = tf.backend() as unknown as { disposeData(id: unknown): void };
        const taken = conv2DBackpropFilterIm2col(x, dy, attrs as never, backend as never);
        assert(taken, "takes the im2col path");
        backend.disposeData(taken.dataId);
      }
      return (tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs as never) as tf.Tensor)
        .dataSync() as Float32Array;
    });
  for (const [i, c] of cases.entries()) {
    await tf.setBackend("cpu");
    const expected = gradient(c, i);
    await tf.setBackend("wasm");
    // The kernel as registered, with the Winograd job (which takes most of these) off.
    useWinogradFilterGradients(false);
    let actual: Float32Array;
    try {
      actual = gradient(c, i);
    } finally {
      useWinogradFilterGradients(true);
    }
    assert(
      relativeError(actual, expected) <= 1e-5,
      `${JSON.stringify(c)}: ${relativeError(actual, expected)}`,
    );
  }
});

/** dW of a 3×3, stride-1 convolution in float64, directly from its definition. */
function filterGradientFloat64(
  x: ArrayLike<number>,
  xShape: number[],
  dy: ArrayLike<number>,
  dyShape: number[],
  padTop: number,
  padLeft: number,
): Float64Array {
  const [n, h, w, ci] = xShape, [, oh, ow, co] = dyShape;
  const dw = new Float64Array(9 * ci * co);
  const column = new Float64Array(co);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const d = ((b * oh + i) * ow + j) * co;
        for (let o = 0; o < co; o++) column[o] = dy[d + o];
        for (let p = 0; p < 3; p++) {
          const y = i + p - padTop;
          if (y < 0 || y >= h) continue;
          for (let q = 0; q < 3; q++) {
            const xx = j + q - padLeft;
            if (xx < 0 || xx >= w) continue;
            const from = ((b * h + y) * w + xx) * ci, tap = (p * 3 + q) * ci * co;
            for (let c = 0; c < ci; c++) {
              const v = x[from + c], at = tap + c * co;
              for (let o = 0; o < co; o++) dw[at + o] += v * column[o];
            }
          }
        }
      }
    }
  }
  return dw;
}

Deno.test("3×3 filter gradients in the Winograd domain match cpu and a float64 reference at the chapter's sizes", async () => {
  // The book convnet's conv2d_2–4 in training (batch 2–4 of the 32: the cpu
  // backend is slow), a ragged 15×15 gradient (half tiles), VGG16-like "same"
  // layers, and small odd shapes.
  const { conv2DBackpropFilterWinograd, useWinogradFilterGradients } = await import(
    "../src/backend/conv_gradients.ts"
  );
  const cases: { x: [number, number, number, number]; co: number; pad: "valid" | "same" }[] = [
    { x: [2, 74, 74, 32], co: 64, pad: "valid" },
    { x: [2, 36, 36, 64], co: 128, pad: "valid" },
    { x: [4, 17, 17, 128], co: 128, pad: "valid" },
    { x: [1, 18, 18, 128], co: 256, pad: "same" },
    { x: [1, 37, 37, 64], co: 64, pad: "same" },
    { x: [3, 9, 7, 4], co: 8, pad: "valid" },
    { x: [2, 5, 6, 12], co: 16, pad: "same" },
    { x: [1, 3, 3, 8], co: 8, pad: "valid" }, // one output position
  ];
  const inputs = (c: (typeof cases)[number], seed: number) => {
    const filterShape = [3, 3, c.x[3], c.co] as [number, number, number, number];
    const x = tf.randomNormal(c.x, 0, 1, "float32", 70 + seed) as tf.Tensor4D;
    const k = tf.zeros(filterShape) as tf.Tensor4D;
    const dy = tf.randomNormal(tf.conv2d(x, k, 1, c.pad).shape, 0, 1, "float32", 80 + seed);
    k.dispose();
    return { x, dy, attrs: { strides: 1, pad: c.pad, dataFormat: "NHWC", filterShape } };
  };
  const gradient = (c: (typeof cases)[number], seed: number) =>
    tf.tidy(() => {
      const { x, dy, attrs } = inputs(c, seed);
      return (tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs as never) as tf.Tensor)
        .dataSync() as Float32Array;
    });
  for (const [i, c] of cases.entries()) {
    // Every case takes the Winograd path.
    tf.tidy(() => {
      const { x, dy, attrs } = inputs(c, i);
      const backend = tf.backend() as unknown as { disposeData(id: unknown): void };
      const taken = conv2DBackpropFilterWinograd(x, dy, attrs as never, backend as never);
      assert(taken, `${JSON.stringify(c)} takes the Winograd path`);
      backend.disposeData(taken.dataId);
    });
    await tf.setBackend("cpu");
    const expected = gradient(c, i);
    await tf.setBackend("wasm");
    // The job with and without the helper threads, and the im2col products.
    matchesWithAndWithoutJob(
      JSON.stringify(c),
      expected,
      () => gradient(c, i),
      useWinogradFilterGradients,
    );
  }
  // The rounding against float64 at conv2d_3's real size (batch 2), with
  // the im2col products' for scale.
  const c = {
    x: [2, 36, 36, 64] as [number, number, number, number],
    co: 128,
    pad: "valid" as const,
  };
  const { x, dy } = inputs(c, 99);
  const exact = filterGradientFloat64(x.dataSync(), x.shape, dy.dataSync(), dy.shape, 0, 0);
  const winograd = gradient(c, 99);
  useWinogradFilterGradients(false);
  const im2col = gradient(c, 99);
  useWinogradFilterGradients(true);
  const winogradError = relativeError(winograd, exact), im2colError = relativeError(im2col, exact);
  console.log(
    `  float64 reference, conv2d_3 at batch 1: Winograd ${winogradError.toExponential(1)}, ` +
      `im2col ${im2colError.toExponential(1)}`,
  );
  assert(winogradError <= 1e-5, `Winograd's rounding: ${winogradError}`);
  tf.dispose([x, dy]);
  // Repeated, the job keeps no WASM heap.
  const before = wasmHeapBytes();
  for (const [i, c] of cases.slice(-3).entries()) gradient(c, i);
  assertEquals(wasmHeapBytes(), before);
});

Deno.test("3×3 filter gradients as im2col products, in blocks of positions, match the convolution path (batch 32)", async () => {
  const { conv2DBackpropFilterIm2col, conv2DBackpropFilterViaConv, im2colBlockPositions } =
    await import("../src/backend/conv_gradients.ts");
  const backend = tf.backend() as never;
  // conv2d_2 of the book convnet in training: 32 × 72² positions, many blocks.
  assert(im2colBlockPositions(32) < 32 * 72 * 72);
  tf.tidy(() => {
    const x = tf.randomNormal([32, 74, 74, 32], 0, 1, "float32", 5);
    const dy = tf.randomNormal([32, 72, 72, 64], 0, 1, "float32", 6);
    const attrs = { strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [3, 3, 32, 64] };
    const read = (info: tf.TensorInfo | undefined) =>
      tf.engine().makeTensorFromTensorInfo(info!).dataSync() as Float32Array;
    const im2col = read(conv2DBackpropFilterIm2col(x, dy, attrs as never, backend));
    const direct = read(conv2DBackpropFilterViaConv(x, dy, attrs as never, backend));
    assert(
      relativeError(im2col, direct) <= 1e-5,
      `relative error ${relativeError(im2col, direct)}`,
    );
  });
  // Repeated, it keeps neither tensors nor WASM heap.
  const x = tf.randomNormal([8, 40, 40, 16]);
  const w = tf.randomNormal([3, 3, 16, 32]);
  const step = () =>
    tf.tidy(() =>
      tf.sum(
        tf.grad((b: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, b as tf.Tensor4D, 1, "same")))(
          w,
        ),
      )
    ).dispose();
  for (let i = 0; i < 5; i++) step();
  const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
  const heap = wasmHeapBytes();
  for (let i = 0; i < 100; i++) step();
  assertEquals((tf.backend() as unknown as { numDataIds(): number }).numDataIds(), dataIds);
  assertEquals(wasmHeapBytes(), heap);
  tf.dispose([x, w]);
});

Deno.test("input gradients of first layers (1–4 input channels, 3×3, stride 1) match the cpu backend at the chapter's sizes", async () => {
  // VGG16's block1_conv1 and the book convnet's conv2d_1 at 150², a grey
  // picture, and odd shapes with both paddings.
  const cases: { x: [number, number, number, number]; co: number; pad: "valid" | "same" }[] = [
    { x: [1, 150, 150, 3], co: 64, pad: "same" },
    { x: [2, 150, 150, 3], co: 32, pad: "valid" },
    { x: [3, 17, 23, 1], co: 8, pad: "same" },
    { x: [2, 9, 7, 4], co: 12, pad: "valid" },
    { x: [1, 5, 6, 2], co: 4, pad: "same" },
  ];
  const gradient = (c: (typeof cases)[number], seed: number) =>
    tf.tidy(() => {
      const x = tf.randomNormal(c.x, 0, 1, "float32", 10 + seed) as tf.Tensor4D;
      const k = tf.randomNormal([3, 3, c.x[3], c.co], 0, 0.2, "float32", 20 + seed) as tf.Tensor4D;
      const dy = tf.randomNormal(tf.conv2d(x, k, 1, c.pad).shape, 0, 1, "float32", 30 + seed);
      const dx = tf.grad((xi: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(xi as tf.Tensor4D, k, 1, c.pad), dy))
      )(x);
      return dx.dataSync() as Float32Array;
    });
  const { conv2DBackpropInputFewChannels, useFewChannelGradients } = await import(
    "../src/backend/conv_gradients.ts"
  );
  // Every case takes the few-channel path.
  for (const c of cases) {
    tf.tidy(() => {
      const k = tf.zeros([3, 3, c.x[3], c.co]);
      const dy = tf.zeros(
        tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, k as tf.Tensor4D, 1, c.pad).shape,
      );
      const attrs = { strides: 1, pad: c.pad, dataFormat: "NHWC", inputShape: c.x };
      const backend = tf.backend() as unknown as { disposeData(id: unknown): void };
      const taken = conv2DBackpropInputFewChannels(dy, k, attrs as never, backend as never);
      assert(taken, `${JSON.stringify(c)} takes the few-channel path`);
      backend.disposeData(taken.dataId);
    });
  }
  for (const [i, c] of cases.entries()) {
    await tf.setBackend("cpu");
    const expected = gradient(c, i);
    await tf.setBackend("wasm");
    // The SIMD module's job, with and without the helper threads, and XNNPACK.
    matchesWithAndWithoutJob(
      JSON.stringify(c),
      expected,
      () => gradient(c, i),
      useFewChannelGradients,
    );
  }
});

Deno.test("filter gradients of first layers (1–4 input channels, 3×3, stride 1) match the cpu backend at the chapter's sizes", async () => {
  // The book convnet's conv2d_1 in training (150², batch 8 of the 32: the
  // cpu backend takes a minute for 32; more rows than units either way),
  // VGG16's block1_conv1, and odd shapes with both paddings.
  const cases: { x: [number, number, number, number]; co: number; pad: "valid" | "same" }[] = [
    { x: [8, 150, 150, 3], co: 32, pad: "valid" },
    { x: [1, 150, 150, 3], co: 64, pad: "same" },
    { x: [3, 17, 23, 1], co: 8, pad: "same" },
    { x: [2, 9, 7, 4], co: 16, pad: "valid" },
    { x: [1, 5, 6, 2], co: 8, pad: "same" },
  ];
  const gradient = (c: (typeof cases)[number], seed: number) =>
    tf.tidy(() => {
      const x = tf.randomNormal(c.x, 0, 1, "float32", 40 + seed) as tf.Tensor4D;
      const k = tf.randomNormal([3, 3, c.x[3], c.co], 0, 0.2, "float32", 50 + seed) as tf.Tensor4D;
      const dy = tf.randomNormal(tf.conv2d(x, k, 1, c.pad).shape, 0, 1, "float32", 60 + seed);
      const dw = tf.grad((ki: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(x, ki as tf.Tensor4D, 1, c.pad), dy))
      )(
        k,
      );
      return dw.dataSync() as Float32Array;
    });
  const { conv2DBackpropFilterFewChannels, useFewChannelGradients } = await import(
    "../src/backend/conv_gradients.ts"
  );
  // Every case takes the few-channel path.
  for (const c of cases) {
    tf.tidy(() => {
      const x = tf.zeros(c.x);
      const dy = tf.zeros(
        tf.conv2d(x as tf.Tensor4D, tf.zeros([3, 3, c.x[3], c.co]) as tf.Tensor4D, 1, c.pad).shape,
      );
      const attrs = {
        strides: 1,
        pad: c.pad,
        dataFormat: "NHWC",
        filterShape: [3, 3, c.x[3], c.co],
      };
      const backend = tf.backend() as unknown as { disposeData(id: unknown): void };
      const taken = conv2DBackpropFilterFewChannels(x, dy, attrs as never, backend as never);
      assert(taken, `${JSON.stringify(c)} takes the few-channel path`);
      backend.disposeData(taken.dataId);
    });
  }
  for (const [i, c] of cases.entries()) {
    await tf.setBackend("cpu");
    const expected = gradient(c, i);
    await tf.setBackend("wasm");
    // The SIMD module's job, with and without the helper threads, and the other path.
    matchesWithAndWithoutJob(
      JSON.stringify(c),
      expected,
      () => gradient(c, i),
      useFewChannelGradients,
    );
  }
  // The units' sums are freed: a second round of the cases leaves the heap as it was.
  const before = wasmHeapBytes();
  for (const [i, c] of cases.entries()) gradient(c, i);
  assertEquals(wasmHeapBytes(), before);
});

Deno.test("ReLU's gradient kernel (y > 0 ? dy : 0) matches tfjs's dy · step(y), at real sizes and odd lengths", async () => {
  const { reluGradientOf, RELU_GRADIENT_KERNEL } = await import("../src/backend/relu_gradient.ts");
  assert(tf.getKernel(RELU_GRADIENT_KERNEL, "wasm"), "registered on wasm");
  for (const shape of [[12, 150, 150, 64], [1, 37, 37, 256], [3, 5, 7, 3], [1]]) {
    for (const helpers of [true, false]) {
      useSimdHelpers(helpers);
      tf.tidy(() => {
        // Zeros and negative zeros in y too: ReLU's output has many.
        const values = tf.relu(tf.randomNormal(shape, 0, 1, "float32", 7)).dataSync();
        values[values.length - 1] = Number.NaN; // a NaN passes on as NaN
        const y = tf.tensor(values, shape);
        const dy = tf.randomNormal(shape, 0, 1, "float32", 8);
        const expected = tf.mul(dy, tf.step(y)).dataSync();
        const actual = reluGradientOf(dy, y).dataSync();
        assertEquals(actual.length, expected.length);
        for (let i = 0; i < actual.length; i++) {
          if (!Object.is(actual[i], expected[i]) && !(actual[i] === 0 && expected[i] === 0)) {
            throw new Error(
              `${shape} helpers=${helpers}: value ${i}: ${actual[i]} vs ${expected[i]}`,
            );
          }
        }
      });
    }
  }
  useSimdHelpers(true);
});
