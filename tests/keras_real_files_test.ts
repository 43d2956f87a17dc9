/**
 * Real model files, as Keras wrote them, are the test: every one loads with
 * predictions that match an independent numpy implementation of every layer,
 * or is refused with an error naming the layer class and the layer.
 *
 * Runs on the files copied into tests/fixtures/real/ (always) and on every
 * file of ../shared/data/models/real/ (skipped, saying so, when absent).
 */
import { initBackend, KerasFileError, loadKerasModel, tf } from "../mod.ts";
import { assert } from "./assert.ts";
import { wasmHeapBytes } from "./heap.ts";

await initBackend();

interface Reference {
  status: "ok" | "refused";
  shape?: number[];
  outputs?: number[][];
  reason?: string;
}

const here = new URL("./fixtures/real/", import.meta.url).pathname;
const shared = new URL("../../shared/data/models/real/", import.meta.url).pathname;

function modelFiles(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)]
      .map((e) => e.name)
      .filter((n) => /\.(h5|hdf5|keras)$/.test(n))
      .sort();
  } catch {
    return [];
  }
}

function reference(dir: string, file: string): Reference | null {
  for (const path of [`${dir}reference/${file}.json`, `${dir}${file}.json`]) {
    try {
      return JSON.parse(Deno.readTextFileSync(path));
    } catch { /* try the next place */ }
  }
  return null;
}

function input(dir: string, file: string, shape: number[]): tf.Tensor {
  for (const path of [`${dir}reference/${file}.input.f32`, `${dir}${file}.input.f32`]) {
    try {
      const bytes = Deno.readFileSync(path);
      return tf.tensor(
        new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
        shape,
      );
    } catch { /* try the next place */ }
  }
  throw new Error(`no reference input for ${file}`);
}

/** Loads `file` and checks it against its reference; returns a one-line verdict. */
async function check(dir: string, file: string): Promise<string> {
  const ref = reference(dir, file);
  let model: tf.LayersModel;
  try {
    model = await loadKerasModel(`${dir}${file}`);
  } catch (error) {
    assert(error instanceof KerasFileError, `${file}: ${error} is not a KerasFileError`);
    const message = (error as Error).message;
    assert(message.includes(file), `${file}: the error does not name the file: ${message}`);
    assert(ref?.status === "refused", `${file} was refused but the reference ran it: ${message}`);
    // The refusal names the class the reference refused for, and a layer.
    const classes = ref.reason!.replace(/^.*: /, "").split(/,\s*/);
    assert(
      classes.some((c) => new RegExp(`\\(${c}\\)|class ${c}`).test(message)) &&
        /layer "[^"]+"/.test(message),
      `${file}: the refusal names neither ${classes} nor a layer: ${message}`,
    );
    return `refused: ${message.slice(message.indexOf("layer"), message.indexOf("layer") + 60)}…`;
  }
  try {
    assert(ref?.status === "ok", `${file} loaded but the reference refused it (${ref?.reason})`);
    const x = input(dir, file, ref.shape!);
    const y = tf.tidy(() => model.predict(x) as tf.Tensor);
    const got = y.dataSync();
    x.dispose();
    y.dispose();
    const want = ref.outputs!.flat();
    assert(got.length === want.length, `${file}: ${got.length} outputs, reference ${want.length}`);
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      const diff = Math.abs(got[i] - want[i]);
      worst = Math.max(worst, diff);
      assert(
        diff <= 1e-4 + 1e-3 * Math.abs(want[i]),
        `${file}: output ${i} is ${got[i]}, the reference ${want[i]}`,
      );
    }
    return `loads, ${want.length} outputs within ${worst.toExponential(1)} of the reference`;
  } finally {
    model.dispose();
  }
}

async function checkFolder(dir: string, files: string[]): Promise<void> {
  const before = tf.memory().numTensors;
  const heapBefore = wasmHeapBytes();
  let loaded = 0;
  for (const file of files) {
    const verdict = await check(dir, file);
    if (verdict.startsWith("loads")) loaded++;
    console.log(`  ${file}: ${verdict}`);
  }
  console.log(
    `  ${loaded} of ${files.length} load and match; tensors ${before} → ${tf.memory().numTensors}, ` +
      `WASM heap ${(heapBefore / 2 ** 20).toFixed(0)} → ${
        (wasmHeapBytes() / 2 ** 20).toFixed(0)
      } MiB`,
  );
  assert(tf.memory().numTensors === before, "loading real files left tensors behind");
}

Deno.test("real Keras files shipped in tests/fixtures/real load and match the reference, or are refused by name", async () => {
  const files = modelFiles(here);
  assert(files.length >= 6, `expected the real fixture files in ${here}`);
  await checkFolder(here, files);
});

const sharedFiles = modelFiles(shared);
Deno.test({
  name:
    "every real Keras file in ../shared/data/models/real loads and matches, or is refused by name",
  ignore: sharedFiles.length === 0,
  fn: async () => {
    await checkFolder(shared, sharedFiles);
  },
});
if (sharedFiles.length === 0) {
  console.log(`SKIP: ${shared} is absent: the 16 real files of ../shared are not tested here`);
}
