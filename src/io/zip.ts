/**
 * Reading zip archives (Keras 3 `.keras` files are zips) with limits, so a
 * damaged or hostile archive ends in a clear error instead of a hang or an
 * out-of-memory.
 *
 * @module
 */
import { unzipSync } from "fflate";

/** Limits of {@linkcode readZip}. */
export interface ZipLimits {
  /** Largest total uncompressed size accepted, in bytes. Default 4 GiB. */
  maxTotalBytes?: number;
  /** Only these entries are inflated (others are listed but not read). Default: all. */
  only?: (name: string) => boolean;
  /** Largest uncompressed size of one entry, by name; checked before it is inflated. */
  maxEntryBytes?: (name: string) => number | undefined;
}

/** The entries of a zip archive: name → content, plus every name in the archive. */
export interface ZipEntries {
  /** The inflated entries (those `only` accepted). */
  files: Map<string, Uint8Array>;
  /** Every entry name in the archive, in archive order. */
  names: string[];
}

/** Whether bytes start with a zip local-file signature (`PK\x03\x04`). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 &&
    bytes[3] === 4;
}

/**
 * Inflates a zip archive held in memory. Errors name the archive and what is
 * wrong with it (not a zip, truncated, corrupt entry, declared size too large).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { readZip } from "./zip.ts";
 * import { zipSync } from "fflate";
 * const zip = zipSync({ "a.txt": new TextEncoder().encode("hi") });
 * const { files } = readZip(zip, "demo.zip");
 * assertEquals(new TextDecoder().decode(files.get("a.txt")), "hi");
 * ```
 */
export function readZip(bytes: Uint8Array, label: string, limits: ZipLimits = {}): ZipEntries {
  if (!isZip(bytes)) throw new Error(`${label}: not a zip archive (no zip signature)`);
  const maxTotal = limits.maxTotalBytes ?? 4 * 1024 ** 3;
  const names: string[] = [];
  let total = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter(file) {
        names.push(file.name);
        if (limits.only && !limits.only(file.name)) return false;
        const most = limits.maxEntryBytes?.(file.name);
        if (most !== undefined && file.originalSize > most) {
          throw new RangeError(
            `"${file.name}" declares ${file.originalSize} uncompressed bytes, more than ${most}`,
          );
        }
        total += file.originalSize;
        if (total > maxTotal) {
          throw new RangeError(
            `entries declare more than ${maxTotal} uncompressed bytes (at "${file.name}")`,
          );
        }
        return true;
      },
    });
  } catch (error) {
    if (error instanceof RangeError && /declares/.test(error.message)) {
      throw new Error(`${label}: zip entries too large: ${error.message}`, { cause: error });
    }
    throw new Error(`${label}: corrupt or truncated zip archive (${(error as Error).message})`, {
      cause: error,
    });
  }
  return { files: new Map(Object.entries(files)), names };
}
