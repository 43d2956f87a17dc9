/**
 * Reading HDF5 files (Keras 2 `.h5` models and weights, the weights inside a
 * Keras 3 `.keras` archive) with h5wasm, with errors that name the file.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import h5wasm from "h5wasm/node";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_MODEL_WEIGHT_VALUES } from "./_budget.ts";
import { KerasFileError } from "./keras_file_error.ts";

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
/** 2²⁸ float32 values (1 GiB); VGG16's largest weight, fc1, has 1.0e8. */
const MAX_WEIGHT_VALUES = 2 ** 28;

/** A group or dataset of an open HDF5 file, as h5wasm presents it. */
export interface H5Node {
  /** Attributes by name. */
  attrs: Record<string, { value: unknown }>;
  /** Child names (groups only). */
  keys?: () => string[];
  /** The data (datasets only). */
  value?: unknown;
  /** The dataset shape (datasets only). */
  shape?: number[];
  /** The element type (datasets only), e.g. `"<f"`. */
  dtype?: unknown;
}

/** An open HDF5 file. */
export interface H5File extends H5Node {
  /** The node at a path, or null. */
  get(path: string): H5Node | null;
  /** Closes the file. */
  close(): void;
}

let errorsThrow = false;

/**
 * h5wasm, with HDF5's errors raised as exceptions rather than printed: by
 * default HDF5 writes pages of "HDF5-DIAG" to stderr (into a notebook's
 * output) and lets some damaged files open anyway.
 */
async function hdf5Ready(): Promise<void> {
  const module = await h5wasm.ready as unknown as { activate_throwing_error_handler?: () => void };
  if (!errorsThrow) {
    module.activate_throwing_error_handler?.();
    errorsThrow = true;
  }
}

/** HDF5's error stack in one line: the outermost failure and its innermost cause. */
function hdf5Reason(error: unknown): string {
  const message = String((error as Error)?.message ?? error);
  const reasons = [...message.matchAll(/in [\w.]+\(\): ([^\n]+)/g)].map((m) => m[1].trim());
  if (reasons.length === 0) return message.split("\n")[0];
  return reasons.length === 1 ? reasons[0] : `${reasons[0]}: ${reasons[reasons.length - 1]}`;
}

/**
 * Whether bytes start with the HDF5 signature.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { isHdf5 } from "./hdf5.ts";
 * assertEquals(isHdf5(new TextEncoder().encode("not hdf5")), false);
 * ```
 */
export function isHdf5(bytes: Uint8Array): boolean {
  return HDF5_SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * Opens HDF5 bytes read-only for the duration of `use`; errors HDF5 raises on
 * damaged structures become a {@linkcode KerasFileError} naming `label`.
 */
export async function withHdf5<T>(
  bytes: Uint8Array,
  label: string,
  use: (file: H5File) => T | Promise<T>,
): Promise<T> {
  if (!isHdf5(bytes)) throw new KerasFileError(`${label}: not an HDF5 file (no HDF5 signature)`);
  await hdf5Ready();
  // h5wasm's node build opens real paths only.
  const dir = await mkdtemp(join(tmpdir(), "convscope-h5-"));
  const path = join(dir, "file.h5");
  await writeFile(path, bytes);
  let file: H5File | undefined;
  try {
    try {
      file = new h5wasm.File(path, "r") as unknown as H5File;
    } catch (error) {
      throw new KerasFileError(
        `${label}: corrupt or truncated HDF5 file (${hdf5Reason(error)})`,
        { cause: error },
      );
    }
    try {
      return await use(file);
    } catch (error) {
      if (error instanceof KerasFileError) throw error;
      // HDF5 reports damage as plain Errors; a TypeError or RangeError is more
      // likely a structure convscope did not expect: say so, keep the cause.
      const damage = (error as Error)?.constructor === Error;
      throw new KerasFileError(
        damage
          ? `${label}: corrupt or truncated HDF5 file (${hdf5Reason(error)})`
          : `${label}: reading the HDF5 file failed (${(error as Error)?.name}: ${
            (error as Error)?.message
          })`,
        { cause: error },
      );
    }
  } finally {
    try {
      file?.close();
    } catch { /* already closed */ }
    await rm(dir, { recursive: true, force: true });
  }
}

/** A string attribute, decoded. */
export function attrText(node: H5Node, name: string): string | undefined {
  const value = node.attrs?.[name]?.value;
  if (value == null) return undefined;
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return String(value);
}

/** A string-list attribute, decoded; empty when absent. */
export function attrList(node: H5Node, name: string): string[] {
  const value = node.attrs?.[name]?.value;
  if (value == null) return [];
  // An empty list (layers without weights) reads back as an empty string or array.
  return (Array.isArray(value) ? value : [value])
    .map((v) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v)))
    .filter((v) => v.length > 0);
}

/** Weight values read from each open file so far, against the model budget. */
const declaredValues = new WeakMap<H5File, number>();

/** A numeric dataset as a float32 tensor, or a {@linkcode KerasFileError} naming the path. */
export function datasetTensor(file: H5File, path: string, label: string): tf.Tensor {
  const dataset = file.get(path);
  if (!dataset || !Array.isArray(dataset.shape)) {
    throw new KerasFileError(`${label}: weight "${path}" is missing`);
  }
  const shape = dataset.shape;
  const count = shape.reduce((a, b) => a * b, 1);
  // A compressed dataset can declare any size; refuse before inflating it.
  if (count > MAX_WEIGHT_VALUES) {
    throw new KerasFileError(
      `${label}: weight "${path}" declares shape [${shape}] (${count} values), more than a layer here can hold`,
    );
  }
  const declared = (declaredValues.get(file) ?? 0) + count;
  declaredValues.set(file, declared);
  if (declared > MAX_MODEL_WEIGHT_VALUES) {
    throw new KerasFileError(
      `${label}: the weights declare more than ${MAX_MODEL_WEIGHT_VALUES} values (2 GiB) by "${path}"`,
    );
  }
  const values = dataset.value;
  if (!ArrayBuffer.isView(values) || (values as unknown as ArrayLike<number>).length !== count) {
    throw new KerasFileError(
      `${label}: weight "${path}" does not hold ${count} numbers for shape [${shape}]`,
    );
  }
  return tf.tensor(Float32Array.from(values as unknown as ArrayLike<number>), shape);
}
