/**
 * The benchmark workloads on one backend configuration, printed as JSON.
 * Run through bench/bench.ts, which starts one process per configuration
 * (the wasm thread pool cannot be resized within a process).
 *
 * Usage: deno run -A bench/workloads.ts --backend wasm|cpu|webgpu [--threads N] [--stock-input-gradient]
 *        [--no-winograd] [--quick] [--only "a|b"]
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  bookConvnet,
  featureGrid,
  filterPatterns,
  getActivations,
  initBackend,
  mnistConvnet,
  vgg16,
} from "../mod.ts";
import { median } from "./stats.ts";
import { simdKernels, useRelaxedSimd } from "../src/backend/simd_module.ts";
import { batchedProducts, simdCeilingJob, toPanels } from "../src/backend/simd_jobs.ts";
import type { WasmBackendLike } from "../src/backend/kernel_registry.ts";

const args = Deno.args;
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const backend = (value("--backend") ?? "wasm") as "wasm" | "cpu" | "webgpu";
const threads = value("--threads") ? Number(value("--threads")) : undefined;
const stock = flag("--stock-input-gradient");
const winograd = !flag("--no-winograd");
const quick = flag("--quick");
const only = value("--only")?.split("|");

const info = await initBackend({ backend, threads, fastInputGradient: !stock, winograd });
const slowBackend = backend === "cpu" || stock;
// Mesa's lavapipe (a CPU rasteriser) stands in for a GPU here: correct, and
// slower than WASM, so its column keeps the rows a GPU is bought for.
const softwareGpu = backend === "webgpu" && info.gpu?.software === true;

export interface Result {
  name: string;
  ms: number;
  runs: number;
  gflops?: number;
  perSecond?: number;
  unit?: string;
  note?: string;
}
const results: Result[] = [];

/** Warm up three times, then time until `maxRuns` runs or `budgetMs` spent (at least one). */
async function time(
  name: string,
  run: () => Promise<void> | void,
  opts: {
    maxRuns?: number;
    budgetMs?: number;
    flops?: number;
    items?: number;
    unit?: string;
    /** Warm-up runs instead of the default three. */
    warmups?: number;
  } = {},
): Promise<void> {
  if (only && !only.some((o) => name.includes(o))) return;
  // Three warm-up runs, and at least a second of them, let V8 tier the WASM
  // and JS up to optimised code (PyTorch's side does the same); one on the
  // slow backends, whose runs take seconds.
  const warmups = opts.warmups ?? (quick || slowBackend || softwareGpu ? 1 : 3);
  const warmupStart = performance.now();
  for (let i = 0; i < warmups; i++) await run();
  while (warmups === 3 && performance.now() - warmupStart < 1000) await run();
  const times: number[] = [];
  const budget = quick ? 1000 : opts.budgetMs ?? 6000;
  const maxRuns = quick ? 2 : opts.maxRuns ?? 25;
  const start = performance.now();
  while (times.length < maxRuns && (times.length === 0 || performance.now() - start < budget)) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  const ms = median(times);
  results.push({
    name,
    ms,
    runs: times.length,
    ...(opts.flops ? { gflops: opts.flops / ms / 1e6 } : {}),
    ...(opts.items ? { perSecond: (opts.items * 1000) / ms, unit: opts.unit } : {}),
  });
  console.error(`  ${name}: ${ms.toFixed(1)} ms (${times.length} runs)`);
}

function skip(name: string, note: string) {
  if (only && !only.some((o) => name.includes(o))) return;
  results.push({ name, ms: NaN, runs: 0, note });
}

/** Multiply-adds ×2 of every convolution of `model` up to `layerName`, per sample. */
function convFlops(model: tf.LayersModel, layerName: string, inputSize: [number, number]): number {
  let flops = 0;
  let h = inputSize[0], w = inputSize[1];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === "Conv2D") {
      const cfg = layer.getConfig() as { padding: string; kernelSize: number[]; filters: number };
      const [kh, kw] = cfg.kernelSize;
      const cin = (layer.getWeights()[0].shape as number[])[2];
      if (cfg.padding === "valid") {
        h -= kh - 1;
        w -= kw - 1;
      }
      flops += 2 * h * w * kh * kw * cin * cfg.filters;
    } else if (cls === "MaxPooling2D") {
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
    if (layer.name === layerName) break;
  }
  return flops;
}

console.error(`${backend}${stock ? " (stock input gradient)" : ""}: ${JSON.stringify(info)}`);

// 0. The WASM SIMD ceiling on these threads, and the arithmetic the Winograd
// path's products really do against it (the table's other GF/s are
// direct-convolution equivalents).
if (backend === "wasm" && !stock && winograd) {
  const wasmBackend = tf.backend() as unknown as WasmBackendLike;
  for (const relaxed of [true, false]) {
    useRelaxedSimd(relaxed);
    const simd = simdKernels(wasmBackend);
    if (!simd || simd.relaxed !== relaxed) continue;
    const name = relaxed
      ? "WASM SIMD ceiling: fused multiply-add (relaxed SIMD)"
      : "WASM SIMD ceiling: multiply, then add (plain SIMD)";
    const units = 16, rounds = 200_000;
    await time(name, () => {
      simdCeilingJob(simd, wasmBackend, units, rounds);
    }, { flops: 2 * units * rounds * 12 * 4, maxRuns: 9 });
  }
  useRelaxedSimd(true);
  const simd = simdKernels(wasmBackend);
  // block3_conv2 at batch 1, 150²: 100 tiles of F(4×4, 3×3), 36 products.
  const [count, M, K, N] = [36, 100, 256, 256];
  const flops = 2 * count * M * K * N;
  const a = tf.randomNormal([count, M, K]);
  const b = tf.randomNormal([count, K, N]);
  if (simd) {
    const values = b.dataSync();
    const panels = toPanels(values, count, K, N);
    const packed = tf.tensor(panels);
    const c = tf.zeros([count, M, N]);
    await time("Winograd products, own jobs: 36 × [100×256]·[256×256] (block3_conv2)", () => {
      batchedProducts(simd, wasmBackend, a, packed, c, count, M, K, N);
    }, { flops });
    tf.dispose([packed, c]);
  }
  const as = tf.unstack(a).map((m) => m.expandDims(0));
  const bs = tf.unstack(b).map((m) => m.expandDims(0));
  await time("Winograd products, XNNPACK one by one: the same 36", () => {
    tf.dispose(as.map((m, i) => tf.matMul(m, bs[i])));
  }, { flops });
  tf.dispose([a, b, ...as, ...bs]);
}

// 1. Raw convolution speed against the SIMD ceiling.
{
  const x = tf.randomNormal([1, 72, 72, 64]) as tf.Tensor4D;
  const k = tf.randomNormal([3, 3, 64, 128]) as tf.Tensor4D;
  await time("conv2d forward 72×72×64→128, 3×3", async () => {
    const y = tf.conv2d(x, k, 1, "same");
    await y.data();
    y.dispose();
  }, { flops: 2 * 72 * 72 * 9 * 64 * 128 });
  tf.dispose([x, k]);
}

// 2. Activation extraction, the seed convnet at 150².
{
  const model = bookConvnet();
  const flops1 = convFlops(model, "max_pooling2d_4", [150, 150]);
  for (const batch of [1, 16]) {
    const input = tf.randomUniform([batch, 150, 150, 3]);
    await time(`activations, seed convnet, batch ${batch}`, async () => {
      // On wasm getActivations' read-back is an already-resolved promise (a
      // microtask, not an event-loop turn).
      const acts = await getActivations(model, input);
      // Copied out as the figures read them. (Awaiting data() instead adds a
      // Deno event-loop turn, 3–8 ms here, which is no part of extraction;
      // PyTorch's side keeps its outputs where they are.)
      for (const a of acts) a.activation.dataSync();
      acts.forEach((a) => a.activation.dispose());
    }, { flops: flops1 * batch, items: batch, unit: "images/s" });
    input.dispose();
  }
  // 3. Rendering the 8 grids to PNG (backend independent; measured once).
  if (backend === "wasm" && !stock && (threads ?? 2) > 1) {
    const input = tf.randomUniform([1, 150, 150, 3]);
    const acts = await getActivations(model, input);
    await time("render 8 activation grids to PNG", () => {
      for (const a of acts) featureGrid(a.activation, { title: a.name }).png();
    });
    acts.forEach((a) => a.activation.dispose());
    input.dispose();
  }
  model.dispose();
}

// 4. One gradient-ascent step on VGG16 at 150², batch 1 and a 64-filter batch.
{
  const model = vgg16({ includeTop: false });
  for (let block = 1; block <= 5; block++) {
    const layer = `block${block}_conv1`;
    const flops = 2 * convFlops(model, layer, [150, 150]);
    await time(`ascent step VGG16 → ${layer} 150², batch 1`, async () => {
      const out = await filterPatterns(model, layer, [0], {
        inputSize: 150,
        steps: 1,
        deprocess: "none",
      });
      await out.data();
      out.dispose();
    }, { flops, maxRuns: 9, budgetMs: 8000 });
  }
  for (let block = 1; block <= 5; block++) {
    const layer = `block${block}_conv1`;
    const name = `ascent step VGG16 → ${layer} 150², 64 filters`;
    if (slowBackend || softwareGpu) {
      // On lavapipe a 64-filter step is ~64 batch-1 steps: 10 minutes at block5.
      skip(name, "skipped: over a minute per step on this backend");
      continue;
    }
    const flops = 2 * convFlops(model, layer, [150, 150]) * 64;
    await time(name, async () => {
      const out = await filterPatterns(model, layer, Array.from({ length: 64 }, (_, i) => i), {
        inputSize: 150,
        steps: 1,
        deprocess: "none",
      });
      await out.data();
      out.dispose();
    }, {
      flops,
      maxRuns: 1,
      budgetMs: 0,
      items: 64,
      unit: "filter-steps/s",
      // One warm-up, as PyTorch's side has: the first run of a batch shape
      // grows the WASM heap, packs weights and (on a GPU) compiles shaders;
      // block1 took 560–610 ms cold and 206 ms warm here.
      warmups: 1,
    });
  }
  // 5. Batched vs one at a time: block3_conv1 at 64², per filter-step.
  if (!slowBackend && !softwareGpu) {
    await time("filter grid block3_conv1 64²: 64 filters batched, per filter-step", async () => {
      const out = await filterPatterns(
        model,
        "block3_conv1",
        Array.from({ length: 64 }, (_, i) => i),
        {
          inputSize: 64,
          steps: 10,
        },
      );
      out.dispose();
    }, { maxRuns: 1, budgetMs: 0, items: 640, unit: "filter-steps/s", warmups: 1 });
    await time("filter grid block3_conv1 64²: one filter at a time, per filter-step", async () => {
      for (let f = 0; f < 8; f++) {
        const out = await filterPatterns(model, "block3_conv1", [f], { inputSize: 64, steps: 10 });
        out.dispose();
      }
    }, { maxRuns: 1, budgetMs: 0, items: 80, unit: "filter-steps/s", warmups: 1 });
  }
  model.dispose();
}

// 6. Grad-CAM on full VGG16 at 224²: forward, and the class score's gradient at block5_conv3.
{
  const model = vgg16({ includeTop: true });
  const convModel = tf.model({
    inputs: model.inputs,
    outputs: model.getLayer("block5_conv3").output,
  });
  const head = ["block5_pool", "flatten", "fc1", "fc2", "predictions"].map((n) =>
    model.getLayer(n)
  );
  const image = tf.randomUniform([1, 224, 224, 3], -100, 150);
  await time("Grad-CAM VGG16 224²", async () => {
    const heatmap = tf.tidy(() => {
      const conv = convModel.predict(image) as tf.Tensor;
      const score = (c: tf.Tensor) => {
        let x = c;
        for (const l of head) x = l.apply(x) as tf.Tensor;
        return tf.sum(tf.slice(x, [0, 386], [1, 1])) as tf.Scalar;
      };
      const grads = tf.grad(score)(conv);
      const weights = tf.mean(grads, [0, 1, 2]);
      return tf.relu(tf.sum(tf.mul(conv, weights), -1));
    });
    await heatmap.data();
    heatmap.dispose();
  }, { maxRuns: 3, budgetMs: 4000, flops: convFlops(model, "block5_conv3", [224, 224]) });
  image.dispose();
  model.dispose();
}

// 7. One class-maximisation step on the MNIST convnet (logit of class 3 w.r.t. the input).
{
  const model = mnistConvnet();
  const logits = tf.model({ inputs: model.inputs, outputs: model.getLayer("dense_1").output });
  const preds = model.getLayer("preds");
  const x0 = tf.randomUniform([1, 28, 28, 1]);
  await time("MNIST class-maximisation step", async () => {
    const next = tf.tidy(() => {
      const g = tf.grad((x: tf.Tensor) => {
        const z = tf.matMul(
          logits.apply(x, { training: false }) as tf.Tensor2D,
          preds.getWeights()[0] as tf.Tensor2D,
        );
        return tf.sum(tf.slice(z, [0, 3], [1, 1])) as tf.Scalar;
      })(x0);
      return tf.add(x0, tf.mul(g, 0.1));
    });
    await next.data();
    next.dispose();
  });
  x0.dispose();
  model.dispose();
}

// 8. One training step of the seed convnet, batch 32 (skipped on the JS cpu
// backend, whose filter gradient is a plain loop: 1,896 s per step measured here).
const trainStep = "train step, seed convnet, batch 32";
if (slowBackend) skip(trainStep, "skipped: about 30 minutes per step on this backend");
else {
  const model = bookConvnet();
  model.compile({
    optimizer: tf.train.rmsprop(1e-4),
    loss: "binaryCrossentropy",
    metrics: ["accuracy"],
  });
  const x = tf.randomUniform([32, 150, 150, 3]);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([32, 1]), 0.5), "float32"));
  await time(trainStep, async () => {
    await model.trainOnBatch(x, y);
  }, {
    maxRuns: 5,
    budgetMs: 8000,
    items: 32,
    unit: "images/s",
    flops: 3 * 32 * convFlops(model, "conv2d_4", [150, 150]),
  });
  tf.dispose([x, y]);
  model.dispose();
}

console.log(JSON.stringify({ info, stock, winograd, results }));
