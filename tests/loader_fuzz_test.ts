/**
 * A bounded, seeded fuzz run over every loader: real model files (`.h5`,
 * `.keras`), a tfjs folder and images, mutated (bit flips, truncation, chunk
 * deletion and duplication, JSON mutations, decompression bombs). Every case
 * must end in a load or an error that names the file: no hang, no crash, no
 * bare TypeError/RangeError, and no tensor or WASM heap left behind.
 */
import { strToU8, unzipSync, zipSync } from "fflate";
import { createCanvas } from "@napi-rs/canvas";
import { bookConvnet, initBackend, loadKerasModel, saveModel, tf } from "../mod.ts";
import { decodeImage } from "../src/image/load.ts";
import { assert } from "./assert.ts";
import { wasmHeapBytes } from "./heap.ts";

await initBackend();

const fixtures = new URL("./fixtures/real/", import.meta.url).pathname;
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261201);
const CASES_PER_SEED = Number(Deno.env.get("FUZZ_CASES") ?? 60);

/** A small, fast, seeded generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Mutation = (bytes: Uint8Array, rand: () => number) => Uint8Array;
const int = (rand: () => number, n: number) => Math.floor(rand() * n);

const byteMutations: Record<string, Mutation> = {
  "bit flips": (b, r) => {
    const out = b.slice();
    for (let i = 0, n = 1 + int(r, 16); i < n; i++) out[int(r, out.length)] ^= 1 << int(r, 8);
    return out;
  },
  truncation: (b, r) => b.slice(0, int(r, b.length)),
  "chunk deletion": (b, r) => {
    const at = int(r, b.length);
    const n = 1 + int(r, 4096);
    return new Uint8Array([...b.subarray(0, at), ...b.subarray(at + n)]);
  },
  "chunk duplication": (b, r) => {
    const at = int(r, b.length);
    const chunk = b.subarray(at, at + 1 + int(r, 4096));
    return new Uint8Array([...b.subarray(0, at), ...chunk, ...b.subarray(at)]);
  },
};

/** Mutations of a parsed Keras or tfjs topology (any JSON value, edited in place). */
const jsonMutations: Record<string, (json: unknown, r: () => number) => unknown> = {
  "dangling or out-of-range node reference": (json, r) => {
    const refs = collect(
      json,
      (v) => Array.isArray(v) && typeof v[0] === "string" && Number.isInteger(v[1]),
    );
    if (refs.length === 0) return json;
    const ref = refs[int(r, refs.length)] as unknown[];
    if (r() < 0.5) ref[0] = r() < 0.5 ? "" : "missing_layer";
    else ref[1] = [1, 2, 5, -1, 1e9][int(r, 5)];
    return json;
  },
  "huge dimension": (json, r) => {
    const dims = collect(
      json,
      (v) =>
        Array.isArray(v) && v.length > 0 && v.every((d) => d === null || typeof d === "number"),
    );
    if (dims.length === 0) return json;
    const dim = dims[int(r, dims.length)] as number[];
    dim[int(r, dim.length)] = [65536, 2 ** 31, 1e12, -3][int(r, 4)];
    return json;
  },
  "wrong types and nulls": (json, r) => {
    const objects = collect(json, (v) => v !== null && typeof v === "object" && !Array.isArray(v));
    const object = objects[int(r, objects.length)] as Record<string, unknown>;
    const keys = Object.keys(object);
    if (keys.length === 0) return json;
    object[keys[int(r, keys.length)]] = [null, 7, "x", [], {}, true, [[["a"]]]][int(r, 7)];
    return json;
  },
  "Lambda layer": (json, r) => {
    const layers = collect(
      json,
      (v) =>
        !!v && typeof v === "object" &&
        typeof (v as { class_name?: unknown }).class_name === "string",
    );
    const layer = layers[1 + int(r, Math.max(1, layers.length - 1))] as
      | { class_name: string }
      | undefined;
    if (layer) layer.class_name = "Lambda";
    return json;
  },
  "deep nesting": (json) => {
    let inner: unknown = { class_name: "Sequential", config: { name: "s", layers: [] } };
    for (let i = 0; i < 20_000; i++) {
      inner = { class_name: "Sequential", config: { name: `s${i}`, layers: [inner] } };
    }
    return inner ?? json;
  },
};

function collect(value: unknown, test: (v: unknown) => boolean, out: unknown[] = []): unknown[] {
  if (test(value)) out.push(value);
  if (value && typeof value === "object") {
    for (const child of Object.values(value as Record<string, unknown>)) collect(child, test, out);
  }
  return out;
}

interface Tally {
  loads: number;
  named: number;
  bad: string[];
}

/** Runs one case: a load (disposed at once) or an error naming `label`. */
async function attempt(
  tally: Tally,
  what: string,
  label: string,
  run: () => Promise<{ dispose(): void }>,
): Promise<void> {
  const started = performance.now();
  const before = tf.memory().numTensors;
  try {
    (await run()).dispose();
    tally.loads++;
  } catch (error) {
    const e = error as Error;
    if (!(e instanceof Error) || e.name === "TypeError" || e.name === "RangeError") {
      tally.bad.push(`${what}: bare ${e?.name}: ${e?.message}`);
    } else if (!e.message.includes(label)) {
      tally.bad.push(`${what}: the error does not name ${label}: ${e.message.slice(0, 200)}`);
    } else tally.named++;
  }
  const left = tf.memory().numTensors - before;
  if (left !== 0) tally.bad.push(`${what}: left ${left} tensors`);
  const ms = performance.now() - started;
  if (ms > 5000) tally.bad.push(`${what}: took ${ms.toFixed(0)} ms`);
}

async function withTempFile<T>(name: string, bytes: Uint8Array, use: (path: string) => Promise<T>) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/${name}`, bytes);
    return await use(`${dir}/${name}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("fuzzing the loaders: every mutated model file and image loads or ends in a named error, leaving nothing behind", async () => {
  const rand = random(SEED);
  const tally: Tally = { loads: 0, named: 0, bad: [] };
  const seeds = {
    h5: Deno.readFileSync(`${fixtures}devanagiri-recognizer__devanagari_model.h5`),
    residual: Deno.readFileSync(`${fixtures}mlc-tiny__trainedResnet.h5`),
    keras: Deno.readFileSync(`${fixtures}owuor7-cifar10__cnn_model.keras`),
  };
  const png = new Uint8Array(
    Deno.readFileSync(new URL("../notebooks/images/chelsea.png", import.meta.url)),
  );
  const canvas = createCanvas(64, 48);
  canvas.getContext("2d").fillRect(8, 8, 32, 16);
  const jpeg = new Uint8Array(await canvas.encode("jpeg", 90));
  const webp = new Uint8Array(await canvas.encode("webp", 90));

  // Warm up allocators and caches once, so the heap measures what the cases leave.
  for (const bytes of Object.values(seeds)) (await loadKerasModel(bytes)).dispose();
  const tensors = tf.memory().numTensors;
  const heap = wasmHeapBytes();
  let cases = 0;

  // Bytes of .h5 and .keras files.
  for (const [name, bytes] of Object.entries(seeds)) {
    for (let i = 0; i < CASES_PER_SEED; i++) {
      const kind = Object.keys(byteMutations)[int(rand, 4)];
      const mutated = byteMutations[kind](bytes, rand);
      await attempt(
        tally,
        `${name} ${kind}`,
        `<${mutated.length} bytes>`,
        () => loadKerasModel(mutated),
      );
      cases++;
    }
  }
  // The config inside real files: JSON mutations.
  const archive = unzipSync(seeds.keras);
  const config = new TextDecoder().decode(archive["config.json"]);
  for (let i = 0; i < CASES_PER_SEED * 2; i++) {
    const kind = Object.keys(jsonMutations)[int(rand, 5)];
    const json = jsonMutations[kind](JSON.parse(config), rand);
    const mutated = zipSync({ ...archive, "config.json": strToU8(JSON.stringify(json)) });
    await attempt(
      tally,
      `.keras ${kind}`,
      `<${mutated.length} bytes>`,
      () => loadKerasModel(mutated),
    );
    cases++;
  }
  // A decompression bomb: the weights entry declares 3.8 GB.
  {
    const bomb = seeds.keras.slice();
    const view = new DataView(bomb.buffer);
    for (let at = bomb.length - 22; at >= 0; at--) {
      if (view.getUint32(at, true) !== 0x02014b50) continue; // central directory entries
      const nameLength = view.getUint16(at + 28, true);
      const name = new TextDecoder().decode(bomb.subarray(at + 46, at + 46 + nameLength));
      if (name === "model.weights.h5") view.setUint32(at + 24, 3_800_000_000, true);
    }
    await attempt(tally, ".keras bomb", `<${bomb.length} bytes>`, () => loadKerasModel(bomb));
    cases++;
  }

  // A tfjs folder: model.json mutations and weight files of the wrong size.
  const dir = await Deno.makeTempDir();
  try {
    const model = bookConvnet({ seed: 1 });
    await saveModel(model, dir);
    model.dispose();
    const modelJson = Deno.readTextFileSync(`${dir}/model.json`);
    const weights = Deno.readFileSync(`${dir}/weights.bin`);
    for (let i = 0; i < CASES_PER_SEED; i++) {
      const kind = i % 3 === 0 ? "odd weights.bin" : Object.keys(jsonMutations)[int(rand, 5)];
      const json = kind === "odd weights.bin"
        ? JSON.parse(modelJson)
        : jsonMutations[kind](JSON.parse(modelJson), rand);
      Deno.writeTextFileSync(`${dir}/model.json`, JSON.stringify(json));
      Deno.writeFileSync(
        `${dir}/weights.bin`,
        kind === "odd weights.bin"
          ? weights.subarray(0, weights.length - 1 - int(rand, 99))
          : weights,
      );
      await attempt(tally, `tfjs ${kind}`, `${dir}/model.json`, () => loadKerasModel(dir));
      cases++;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  // Images: byte mutations, and headers declaring huge sizes.
  for (const [name, bytes] of Object.entries({ png, jpeg, webp })) {
    for (let i = 0; i < CASES_PER_SEED / 2; i++) {
      const kind = Object.keys(byteMutations)[int(rand, 4)];
      const mutated = byteMutations[kind](bytes, rand);
      await attempt(tally, `${name} ${kind}`, `${name}-${i}`, async () => {
        const image = await decodeImage(mutated, `${name}-${i}`);
        return { dispose: () => void image };
      });
      cases++;
    }
  }
  const huge = png.slice(0, 142);
  new DataView(huge.buffer).setUint32(16, 16384);
  new DataView(huge.buffer).setUint32(20, 16384);
  await attempt(tally, "PNG declaring 16384²", "huge.png", async () => {
    const image = await withTempFile(
      "huge.png",
      huge,
      (path) => decodeImage(Deno.readFileSync(path), "huge.png"),
    );
    return { dispose: () => void image };
  });
  cases++;

  const heapAfter = wasmHeapBytes();
  console.log(
    `${cases} cases (seed ${SEED}): ${tally.loads} loaded, ${tally.named} named errors, ` +
      `${tally.bad.length} bad; tensors ${tensors} → ${tf.memory().numTensors}; ` +
      `WASM heap ${(heap / 2 ** 20).toFixed(0)} → ${(heapAfter / 2 ** 20).toFixed(0)} MiB`,
  );
  assert(tally.bad.length === 0, tally.bad.slice(0, 10).join("\n"));
  assert(tf.memory().numTensors === tensors, "failed loads left tensors behind");
  assert(heapAfter <= heap + 64 * 2 ** 20, "the WASM heap grew by more than 64 MiB");
});
