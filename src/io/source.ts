/**
 * Where bytes come from: a path, a `URL` (file:, http:, https:) or bytes.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/** A file path, a `URL`, or the bytes themselves. */
export type Source = string | URL | Uint8Array | ArrayBuffer;

/** Bytes with a label that names where they came from, for error messages. */
export interface SourceBytes {
  /** The content. */
  bytes: Uint8Array;
  /** A path, a URL, or `"<N bytes>"`. */
  label: string;
}

/**
 * Reads a source completely. Network URLs are only fetched when the caller
 * passes one; nothing else in convscope goes online.
 *
 * @example
 * ```ts
 * import { readSource } from "./source.ts";
 * const { bytes, label } = await readSource(new Uint8Array([1, 2]));
 * console.log(bytes.length, label); // 2 "<2 bytes>"
 * ```
 */
export async function readSource(source: Source): Promise<SourceBytes> {
  if (source instanceof Uint8Array) return { bytes: source, label: `<${source.length} bytes>` };
  if (source instanceof ArrayBuffer) {
    return { bytes: new Uint8Array(source), label: `<${source.byteLength} bytes>` };
  }
  const url = source instanceof URL ? source : undefined;
  if (url && url.protocol !== "file:") {
    const response = await fetch(url);
    if (!response.ok) {
      throw new Error(`${url.href}: HTTP ${response.status} ${response.statusText}`);
    }
    return { bytes: new Uint8Array(await response.arrayBuffer()), label: url.href };
  }
  const path = url ? fileURLToPath(url) : source as string;
  try {
    return { bytes: new Uint8Array(await readFile(path)), label: path };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === "ENOENT"
      ? "no such file"
      : code === "EISDIR"
      ? "is a directory"
      : (error as Error).message;
    throw new Error(`${path}: ${why}`);
  }
}
