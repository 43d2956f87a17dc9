/**
 * Training on streamed batches with progress, validation, history,
 * per-epoch checkpoints and resuming.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ImageDataset } from "../data/dataset.ts";
import { loadModel, saveModel } from "../models/save.ts";
import { ProgressBar } from "../display/progress.ts";
import type { History } from "../models/history.ts";
import { quickMode } from "../_quick_mode.ts";
import { notice } from "../_notice.ts";
import { SeededRandom } from "../data/random.ts";
import { readScalars } from "../backend/read_back.ts";

export type { History };

/** Options of {@linkcode fit}. */
export interface FitOptions {
  /** Epochs in all (a resumed run continues up to this). */
  epochs: number;
  /** Validation data, evaluated after every epoch. */
  validation?: ImageDataset;
  /** Folder for per-epoch checkpoints; with `resume`, training continues from it. */
  checkpointDir?: string;
  /** Continue from `checkpointDir` if it holds a checkpoint. Default true. */
  resume?: boolean;
  /** Learning rate per epoch (0-based), applied to optimizers with a `learningRate`. */
  learningRate?: (epoch: number) => number;
  /** Progress output. Default true. */
  progress?: boolean;
  /** Called after each epoch. */
  onEpochEnd?: (epoch: number, history: History) => void | Promise<void>;
  /**
   * Mixup (Zhang et al. 2018): each batch is trained on as a blend of itself
   * and a shuffled copy, pictures and labels alike, with one weight λ ~
   * Beta(α, α) per batch. α = 0.2 is the paper's ImageNet setting. The
   * training accuracy is then not comparable (the labels are blended);
   * validation is unaffected. A number, or α per epoch (0-based) like
   * `learningRate`; 0 is off. Default off.
   */
  mixup?: number | ((epoch: number) => number);
  /** Stops after the current batch; the history so far is returned. */
  signal?: AbortSignal;
}

const emptyHistory = (): History => ({ loss: [], acc: [], val_loss: [], val_acc: [], seconds: [] });

/** Accuracy of predictions against labels: sigmoid (one column) or softmax. */
function accuracyOf(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    yPred.shape[1] === 1
      ? tf.mean(tf.cast(tf.equal(tf.greater(yPred, 0.5), tf.greater(yTrue, 0.5)), "float32"))
      : tf.mean(tf.cast(tf.equal(tf.argMax(yPred, 1), tf.argMax(yTrue, 1)), "float32"))
  ) as tf.Scalar;
}

/**
 * Loss and accuracy of `model` over a dataset, batch by batch.
 *
 * @example
 * ```ts
 * import { evaluate, imageDatasetFromDirectory, initBackend, loadBookModel } from "convscope";
 * await initBackend();
 * const dir = "data/cats_and_dogs_small/validation"; // the book's split, wherever you keep it
 * if (await Deno.stat(dir).then(() => true, () => false)) {
 *   const data = await imageDatasetFromDirectory(dir, { rescale: 1 / 255, shuffle: false });
 *   console.log(await evaluate(await loadBookModel(), data)); // { loss: …, acc: … }
 * }
 * ```
 */
export async function evaluate(
  model: tf.LayersModel,
  data: ImageDataset,
): Promise<{ loss: number; acc: number }> {
  let loss = 0, acc = 0, n = 0;
  const lossFn = model.outputs[0].shape[1] === 1 ? tf.losses.sigmoidCrossEntropy : undefined;
  for await (const { x, y } of data.batches()) {
    const [lossTensor, accTensor] = tf.tidy(() => {
      const p = model.predict(x) as tf.Tensor2D;
      const eps = 1e-7;
      const clipped = tf.clipByValue(p, eps, 1 - eps);
      const batchLoss = lossFn
        ? tf.neg(
          tf.mean(
            tf.add(tf.mul(y, tf.log(clipped)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, clipped)))),
          ),
        )
        : tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(clipped)), 1)));
      return [batchLoss, accuracyOf(y, p)];
    });
    const [l, a] = await readScalars(lossTensor, accTensor);
    loss += l * x.shape[0];
    acc += a * x.shape[0];
    n += x.shape[0];
    tf.dispose([x, y]);
  }
  return { loss: loss / Math.max(1, n), acc: acc / Math.max(1, n) };
}

interface CheckpointState {
  epoch: number;
  history: History;
  optimizer: { specs: tf.io.WeightsManifestEntry[] };
}

async function saveCheckpoint(dir: string, model: tf.LayersModel, state: CheckpointState) {
  const tmp = `${dir}.tmp`;
  await mkdir(tmp, { recursive: true });
  await saveModel(model, join(tmp, "model"));
  const named = await model.optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(named);
  await writeFile(join(tmp, "optimizer.bin"), new Uint8Array(data as ArrayBuffer));
  await writeFile(join(tmp, "state.json"), JSON.stringify({ ...state, optimizer: { specs } }));
  // Replace the previous checkpoint only once this one is complete.
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await rename(tmp, dir);
}

async function loadCheckpoint(
  dir: string,
  model: tf.LayersModel,
): Promise<CheckpointState | undefined> {
  let state: CheckpointState;
  try {
    state = JSON.parse(await readFile(join(dir, "state.json"), "utf8"));
  } catch {
    return undefined;
  }
  const saved = await loadModel(join(dir, "model"));
  model.setWeights(saved.getWeights());
  saved.dispose();
  const bytes = new Uint8Array(await readFile(join(dir, "optimizer.bin")));
  const tensors = tf.io.decodeWeights(bytes.buffer, state.optimizer.specs);
  // Slots exist only after the first update: take one zero-gradient step to create them.
  const names = Object.keys(tensors);
  if (names.length > 1) {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    model.optimizer.applyGradients(
      Object.fromEntries(vars.map((v) => [v.name, tf.zerosLike(v)])) as tf.NamedTensorMap,
    );
    await model.optimizer.setWeights(names.map((name) => ({ name, tensor: tensors[name] })));
  }
  return state;
}

/**
 * Trains a compiled model on streamed batches: per-batch progress (bar in a
 * terminal, one live output in a notebook), validation each epoch, a
 * checkpoint each epoch (model, optimizer state, history) and resuming from
 * it, even on another machine.
 *
 * @example
 * ```ts
 * import { bookConvnet, fit, imageDatasetFromDirectory, initBackend, tf } from "convscope";
 * await initBackend();
 * const model = bookConvnet();
 * model.compile({ optimizer: tf.train.rmsprop(1e-4), loss: "binaryCrossentropy", metrics: ["accuracy"] });
 * const dir = "data/cats_and_dogs_small/train"; // the book's split, wherever you keep it
 * if (await Deno.stat(dir).then(() => true, () => false)) {
 *   const train = await imageDatasetFromDirectory(dir, { rescale: 1 / 255, augment: true });
 *   const history = await fit(model, train, { epochs: 2 });
 *   console.log(history.acc);
 * }
 * ```
 */
export async function fit(
  model: tf.LayersModel,
  train: ImageDataset,
  options: FitOptions,
): Promise<History> {
  let history = emptyHistory();
  let startEpoch = 0;
  if (options.checkpointDir && options.resume !== false) {
    const state = await loadCheckpoint(options.checkpointDir, model);
    if (state) {
      history = state.history;
      startEpoch = state.epoch + 1;
      await notice(`resuming from ${options.checkpointDir} after epoch ${startEpoch}`);
    }
  }
  // Quick mode (CONVSCOPE_QUICK=1) trains one epoch; the dataset reads 2 batches of it.
  const epochs = quickMode() ? Math.min(options.epochs, startEpoch + 1) : options.epochs;
  for (let epoch = startEpoch; epoch < epochs; epoch++) {
    if (options.signal?.aborted) break;
    const started = performance.now();
    const optimizer = model.optimizer as tf.Optimizer & { learningRate?: number };
    if (options.learningRate && optimizer.learningRate !== undefined) {
      optimizer.learningRate = options.learningRate(epoch);
    }
    train.epoch = epoch;
    const bar = options.progress === false ? undefined : new ProgressBar({
      total: train.stepsPerEpoch,
      label: `epoch ${epoch + 1}/${options.epochs}`,
    });
    let loss = 0, acc = 0, n = 0;
    const alpha = typeof options.mixup === "function" ? options.mixup(epoch) : options.mixup ?? 0;
    const mixing = alpha > 0 ? new SeededRandom(epoch * 7919 + 17) : undefined;
    for await (const batch of train.batches()) {
      const { x, y } = mixing ? mixBatch(batch, alpha, mixing) : batch;
      const result = await model.trainOnBatch(x, y) as number[] | number;
      const [l, a] = Array.isArray(result) ? result : [result, NaN];
      loss += l * x.shape[0];
      acc += a * x.shape[0];
      n += x.shape[0];
      tf.dispose([x, y]);
      bar?.tick({
        loss: loss / n,
        acc: acc / n,
        "img/s": n / ((performance.now() - started) / 1000),
      });
      if (options.signal?.aborted) break;
    }
    bar?.done();
    history.loss.push(loss / Math.max(1, n));
    history.acc.push(acc / Math.max(1, n));
    if (options.validation) {
      options.validation.epoch = 0;
      const v = await evaluate(model, options.validation);
      history.val_loss.push(v.loss);
      history.val_acc.push(v.acc);
    }
    history.seconds.push((performance.now() - started) / 1000);
    if (options.checkpointDir) {
      await saveCheckpoint(options.checkpointDir, model, {
        epoch,
        history,
        optimizer: { specs: [] },
      });
    }
    const last = (xs: number[]) => xs.at(-1)?.toFixed(4) ?? "–";
    await notice(
      `epoch ${epoch + 1}: loss ${last(history.loss)} acc ${last(history.acc)} val_loss ${
        last(history.val_loss)
      } val_acc ${last(history.val_acc)} (${history.seconds.at(-1)!.toFixed(0)} s, ${
        (n / history.seconds.at(-1)!).toFixed(1)
      } img/s)`,
    );
    await options.onEpochEnd?.(epoch, history);
  }
  return history;
}

/** One mixup batch: λ·batch + (1 − λ)·shuffled batch, for pictures and labels (disposes the input). */
export function mixBatch(
  batch: { x: tf.Tensor; y: tf.Tensor },
  alpha: number,
  random: SeededRandom,
): { x: tf.Tensor; y: tf.Tensor } {
  const lambda = random.beta(alpha, alpha);
  const order = random.shuffle([...Array(batch.x.shape[0]).keys()]);
  const mixed = tf.tidy(() => {
    const index = tf.tensor1d(order, "int32");
    const blend = (t: tf.Tensor) =>
      tf.add(tf.mul(t, lambda), tf.mul(tf.gather(t, index), 1 - lambda));
    return { x: blend(batch.x), y: blend(batch.y) };
  });
  tf.dispose([batch.x, batch.y]);
  return mixed;
}
