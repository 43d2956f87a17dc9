import {
  augmentBatch,
  BOOK_AUGMENTATION,
  bookConvnet,
  imageDatasetFromDirectory,
  initBackend,
  loadModel,
  saveModel,
  SeededRandom,
  tf,
} from "../mod.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./assert.ts";

await initBackend();
const CHELSEA = new URL("../notebooks/images/chelsea.png", import.meta.url).pathname;
const COFFEE = new URL("../notebooks/images/coffee.png", import.meta.url).pathname;

async function makeTree(): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const cls of ["dogs", "cats"]) await Deno.mkdir(`${dir}/${cls}`);
  await Deno.copyFile(CHELSEA, `${dir}/cats/a.png`);
  await Deno.copyFile(CHELSEA, `${dir}/cats/b.png`);
  await Deno.copyFile(COFFEE, `${dir}/dogs/c.png`);
  await Deno.writeTextFile(`${dir}/dogs/notes.txt`, "not a picture");
  return dir;
}

Deno.test("class folders sorted, labels and shapes as flow_from_directory gives them", async () => {
  const dir = await makeTree();
  const data = await imageDatasetFromDirectory(dir, {
    targetSize: [32, 40],
    batchSize: 2,
    shuffle: false,
    rescale: 1 / 255,
  });
  assertEquals(data.classNames, ["cats", "dogs"]);
  assertEquals(data.size, 3);
  assertEquals(data.stepsPerEpoch, 2);
  const seen: [number[], number[], string[]][] = [];
  for await (const { x, y, files } of data.batches()) {
    seen.push([x.shape, [...y.dataSync()], files.map((f) => f.split("/").slice(-2).join("/"))]);
    assert(x.max().dataSync()[0] <= 1 && x.min().dataSync()[0] >= 0);
    tf.dispose([x, y]);
  }
  assertEquals(seen, [[[2, 32, 40, 3], [0, 0], ["cats/a.png", "cats/b.png"]], [
    [1, 32, 40, 3],
    [1],
    ["dogs/c.png"],
  ]]);
  const categorical = await imageDatasetFromDirectory(dir, {
    classMode: "categorical",
    shuffle: false,
    targetSize: [8, 8],
  });
  for await (const { x, y } of categorical.batches()) {
    assertEquals(y.arraySync(), [[1, 0], [1, 0], [0, 1]]);
    tf.dispose([x, y]);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("shuffling and validation splits are seeded and reproducible", async () => {
  const dir = await makeTree();
  const order = async (seed: number, epoch: number) => {
    const d = await imageDatasetFromDirectory(dir, { batchSize: 1, seed, targetSize: [8, 8] });
    d.epoch = epoch;
    const files: string[] = [];
    for await (const b of d.batches()) {
      files.push(...b.files);
      tf.dispose([b.x, b.y]);
    }
    return files;
  };
  assertEquals(await order(3, 5), await order(3, 5));
  const train = await imageDatasetFromDirectory(dir, { validationSplit: 1 / 3, seed: 2 });
  const val = await imageDatasetFromDirectory(dir, {
    validationSplit: 1 / 3,
    seed: 2,
    subset: "validation",
  });
  assertEquals(train.size + val.size, 3);
  assertEquals(new Set([...train.files, ...val.files].map(([f]) => f)).size, 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("augmentation keeps shapes and the value range, and is seeded", () => {
  const batch = tf.tidy(() =>
    tf.concat([tf.zeros([2, 40, 40, 3]), tf.fill([2, 40, 40, 3], 255)], 0)
  ) as tf.Tensor4D;
  const a = augmentBatch(batch, BOOK_AUGMENTATION, new SeededRandom(9));
  const b = augmentBatch(batch, BOOK_AUGMENTATION, new SeededRandom(9));
  assertEquals(a.shape, [4, 40, 40, 3]);
  assertEquals(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], 0);
  assert(tf.min(a).dataSync()[0] >= 0 && tf.max(a).dataSync()[0] <= 255);
  // "nearest" fill: a constant image stays constant whatever the transform.
  assertAlmostEquals(tf.mean(tf.slice(a, [2], [2])).dataSync()[0], 255, 1e-3);
  const ramp = tf.tidy(() =>
    tf.tile(tf.linspace(0, 1, 40).reshape([1, 1, 40, 1]), [1, 40, 1, 3])
  ) as tf.Tensor4D;
  const moved = augmentBatch(ramp, BOOK_AUGMENTATION, new SeededRandom(1));
  assert(tf.max(tf.abs(tf.sub(moved, ramp))).dataSync()[0] > 0.05, "the transform moves pixels");
  tf.dispose([batch, a, b, ramp, moved]);
});

Deno.test("unreadable pictures are skipped and reported by name, or fail when asked", async () => {
  const dir = await makeTree();
  await Deno.writeFile(`${dir}/cats/broken.jpg`, new Uint8Array([0xff, 0xd8, 0xff, 0, 1]));
  const data = await imageDatasetFromDirectory(dir, { shuffle: false, targetSize: [8, 8] });
  let count = 0;
  for await (const { x, y } of data.batches()) {
    count += x.shape[0];
    tf.dispose([x, y]);
  }
  assertEquals(count, 3);
  assertEquals(data.skipped.length, 1);
  assert(data.skipped[0].file.endsWith("broken.jpg"));
  const strict = await imageDatasetFromDirectory(dir, {
    shuffle: false,
    targetSize: [8, 8],
    onError: "fail",
  });
  await assertRejects(async () => {
    for await (const b of strict.batches()) tf.dispose([b.x, b.y]);
  }, "broken.jpg: corrupt or truncated JPEG");
  await assertRejects(() => imageDatasetFromDirectory(`${dir}/nope`), "cannot list the directory");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("saveModel/loadModel round trip in the tfjs layers format, float16 within tolerance", async () => {
  const model = bookConvnet({ seed: 4 });
  const dir = await Deno.makeTempDir();
  await saveModel(model, `${dir}/f32`);
  await saveModel(model, `${dir}/f16`, { float16: true });
  const f32 = await loadModel(`${dir}/f32`);
  const f16 = await loadModel(`${dir}/f16/model.json`);
  const x = tf.randomUniform([2, 150, 150, 3]);
  const [p, q, r] = [model, f32, f16].map((m) => (m.predict(x) as tf.Tensor).dataSync());
  assertEquals([...q], [...p]);
  for (let i = 0; i < p.length; i++) assertAlmostEquals(r[i], p[i], 2e-3);
  const sizes = [
    (await Deno.stat(`${dir}/f32/weights.bin`)).size,
    (await Deno.stat(`${dir}/f16/weights.bin`)).size,
  ];
  assertEquals(sizes[1] * 2, sizes[0]);
  await assertRejects(() => loadModel(`${dir}/missing`), "not a readable tfjs model.json");
  tf.dispose([x]);
  [f32, f16].forEach((m) => m.dispose());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("mixup blends each batch with a shuffled copy of itself, pictures and labels alike", async () => {
  const { mixBatch } = await import("../src/train/fit.ts");
  const { SeededRandom } = await import("../mod.ts");
  const x = tf.tensor4d([0, 10, 20, 30], [4, 1, 1, 1]);
  const y = tf.tensor2d([[0], [1], [0], [1]]);
  const before = tf.memory().numTensors;
  const mixed = mixBatch({ x, y }, 0.2, new SeededRandom(3));
  // The inputs are disposed, the two outputs made.
  assertEquals(tf.memory().numTensors, before - 2 + 2);
  const [xs, ys] = [await mixed.x.data(), await mixed.y.data()];
  // One λ for the batch: every mixed picture is λ·x_i + (1 − λ)·x_j, and its label λ·y_i + (1 − λ)·y_j.
  const lambda = new SeededRandom(3).beta(0.2, 0.2);
  assert(lambda > 0 && lambda < 1, `λ = ${lambda}`);
  for (let i = 0; i < 4; i++) {
    const j = [0, 1, 2, 3].find((k) =>
      Math.abs(lambda * 10 * i + (1 - lambda) * 10 * k - xs[i]) < 1e-4
    );
    assert(j !== undefined, `picture ${i} (${xs[i]}) is no blend with λ = ${lambda}`);
    assertAlmostEquals(ys[i], lambda * (i % 2) + (1 - lambda) * (j % 2), 1e-6);
  }
  tf.dispose([mixed.x, mixed.y]);
});
