/**
 * Saving and loading models in the TensorFlow.js layers format
 * (`model.json` + a binary weight shard), on disk, without a browser.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { assertBackendReady } from "../backend/init.ts";
import {
  checkActivationBudget,
  disposingOnFailure,
  MAX_MODEL_WEIGHT_VALUES,
  withWeightBudget,
} from "./_budget.ts";
import { KerasFileError } from "./keras_file_error.ts";

/** IEEE 754 half precision from single precision, rounding to nearest even. */
function toFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rest = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rest > mid || (rest === mid && (half & 1))) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++;
    out[i] = sign | half;
  }
  return out;
}

/**
 * Writes `model` as `dir/model.json` and `dir/weights.bin` in the tfjs layers
 * format, loadable by any tfjs app (`tf.loadLayersModel`) and by
 * {@linkcode loadModel}.
 *
 * @example
 * ```ts
 * import { bookConvnet, initBackend, saveModel } from "convscope";
 * await initBackend();
 * await saveModel(bookConvnet(), "out/model", { float16: true });
 * ```
 */
export async function saveModel(
  model: tf.LayersModel,
  dir: string,
  options: {
    /** Store weights as float16 (half the size; tfjs dequantises on load). Default false. */
    float16?: boolean;
  } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    let specs = artifacts.weightSpecs!;
    let data: Uint8Array = new Uint8Array(artifacts.weightData as ArrayBuffer);
    if (options.float16) {
      const floats = new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
      if (specs.some((s) => s.dtype !== "float32")) {
        throw new Error("float16 storage needs float32 weights");
      }
      data = new Uint8Array(toFloat16(floats).buffer);
      specs = specs.map((s) => ({ ...s, quantization: { dtype: "float16" as const } }));
    }
    const modelJson = {
      format: "layers-model",
      generatedBy: `convscope (TensorFlow.js ${tf.version.tfjs})`,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ["weights.bin"], weights: specs }],
      ...(artifacts.userDefinedMetadata
        ? { userDefinedMetadata: artifacts.userDefinedMetadata }
        : {}),
    };
    await writeFile(join(dir, "model.json"), JSON.stringify(modelJson));
    await writeFile(join(dir, "weights.bin"), data);
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  }));
}

/**
 * Loads a model saved in the tfjs layers format from a folder or
 * `model.json` path (or a `file:`/`https:` URL to `model.json`).
 *
 * @example
 * ```ts
 * import { initBackend, loadModel } from "convscope";
 * await initBackend();
 * const model = await loadModel("out/model");
 * model.summary();
 * ```
 */
export async function loadModel(source: string | URL): Promise<tf.LayersModel> {
  assertBackendReady();
  if (source instanceof URL && source.protocol !== "file:") {
    return await tf.loadLayersModel(source.href);
  }
  const path = source instanceof URL ? fileURLToPath(source) : source;
  const jsonPath = path.endsWith(".json") ? path : join(path, "model.json");
  const fail = (problem: string, cause?: unknown): never => {
    throw new KerasFileError(`${jsonPath}: ${problem}`, cause ? { cause } : undefined);
  };
  // deno-lint-ignore no-explicit-any
  let json: any;
  try {
    json = JSON.parse(await readFile(jsonPath, "utf8"));
  } catch (error) {
    fail(`not a readable tfjs model.json (${(error as Error).message})`, error);
  }
  if (
    !json || typeof json !== "object" || !json.modelTopology ||
    typeof json.modelTopology !== "object" || !Array.isArray(json.weightsManifest)
  ) {
    fail("no modelTopology/weightsManifest: not a tfjs layers model");
  }
  const groups = json.weightsManifest as tf.io.WeightsManifestConfig;
  let expected = 0;
  let values = 0;
  for (const [g, group] of groups.entries()) {
    if (
      !group || !Array.isArray(group.paths) || !group.paths.every((p) => typeof p === "string") ||
      !Array.isArray(group.weights)
    ) {
      fail(`weightsManifest[${g}] needs "paths" (a list of file names) and "weights" (a list)`);
    }
    for (const spec of group.weights) {
      const shape = spec?.shape;
      if (
        typeof spec?.name !== "string" || !Array.isArray(shape) ||
        !shape.every((d) => Number.isInteger(d) && d >= 0)
      ) {
        fail(`weight ${JSON.stringify(spec)?.slice(0, 80)} has no name or a malformed shape`);
      }
      const count = shape.reduce((a: number, b: number) => a * b, 1);
      const dtype = spec.quantization?.dtype ?? spec.dtype;
      const size = WEIGHT_BYTES[dtype as string];
      if (size === undefined) fail(`weight "${spec.name}" has an unknown dtype ${dtype}`);
      values += count;
      expected += count * size;
    }
  }
  if (values > MAX_MODEL_WEIGHT_VALUES) {
    fail(`the manifest declares ${values} weight values, more than ${MAX_MODEL_WEIGHT_VALUES}`);
  }
  const buffers: Uint8Array[] = [];
  for (const group of groups) {
    for (const p of group.paths) {
      const file = join(dirname(jsonPath), p);
      try {
        buffers.push(new Uint8Array(await readFile(file)));
      } catch (error) {
        fail(`weight file "${p}" cannot be read (${(error as Error).message})`, error);
      }
    }
  }
  const total = buffers.reduce((n, b) => n + b.length, 0);
  if (total !== expected) {
    fail(`the weight files hold ${total} bytes; the manifest's weights need ${expected}`);
  }
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.length;
  }
  // tfjs decodes the weights into tensors it does not free when the build
  // fails; a scope catches them (variables are never in a scope).
  tf.engine().startScope();
  try {
    const build = () =>
      tf.loadLayersModel(tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: groups.flatMap((g) => g.weights),
        weightData: weightData.buffer as ArrayBuffer,
        ...(json.userDefinedMetadata ? { userDefinedMetadata: json.userDefinedMetadata } : {}),
      }));
    const model = await disposingOnFailure(async () => {
      const built = await withWeightBudget(jsonPath, build);
      checkActivationBudget(built, jsonPath);
      return built;
    });
    return model;
  } catch (error) {
    if (error instanceof KerasFileError) throw error;
    return fail(`the model does not build (${(error as Error)?.message})`, error);
  } finally {
    tf.engine().endScope();
  }
}

/** Bytes per stored weight value, by dtype (tfjs's own and its quantized ones). */
const WEIGHT_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  float16: 2,
  uint16: 2,
  uint8: 1,
};
