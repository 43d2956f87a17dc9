/**
 * Starts the threaded-SIMD build of the tfjs WASM backend under Deno.
 *
 * tfjs 4.22 hands `node:worker_threads` a `blob:` URL for emscripten's pthread
 * workers, which Deno refuses (`ERR_WORKER_PATH`), and caps XNNPACK's pool at
 * half the logical cores. For the duration of `setBackend("wasm")` this module
 * swaps in a `Worker` that runs the package's own worker script as an `eval`
 * worker, hands it the package's threaded module file by path instead of a
 * Blob, and reports twice the wanted thread count as the core count. Everything
 * is restored afterwards, also the globals emscripten's glue writes
 * (`Worker`); nothing in `node_modules` is edited.
 *
 * @module
 */
import workerThreads from "node:worker_threads";
import os from "node:os";
import { createRequire } from "node:module";
import * as path from "node:path";

// The package's pthread worker script, as a string it exports (imported
// statically, so the module graph is known when the package is published).
import pthreadWorker from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js";

const require = createRequire(import.meta.url);

/** Absolute path of a file inside the installed `@tensorflow/tfjs-backend-wasm` package. */
function wasmPackageFile(relative: string): string {
  const main = require.resolve("@tensorflow/tfjs-backend-wasm");
  // main is <pkg>/dist/tf-backend-wasm.node.js
  return path.join(path.dirname(path.dirname(main)), relative);
}

// The worker script reads these as browser-style globals; in an eval worker
// they must exist as plain writable properties before the script assigns them.
const WORKER_PRELUDE = [
  "location",
  "onmessage",
].map((name) =>
  `Object.defineProperty(globalThis, "${name}", { value: undefined, writable: true, configurable: true, enumerable: true });`
).join("") + "\n";

/**
 * Makes the next threaded start fail, so tests can prove the single-thread
 * fallback works (a failed pthread start must not take the backend down).
 */
export function failNextThreadedStart(): void {
  failNext = true;
}
let failNext = false;

/**
 * Runs `start` (which must call `tf.setBackend("wasm")`) with the patches that
 * let emscripten's pthreads start in Deno, then restores the originals.
 */
export async function withThreadedWasmPatches<T>(
  threads: number,
  start: () => Promise<T>,
): Promise<T> {
  const workerSource = pthreadWorker.wasmWorkerContents.replace(/\n/g, "\\n");
  const threadedModulePath = wasmPackageFile(
    "wasm-out/tfjs-backend-wasm-threaded-simd.js",
  );
  const OriginalWorker = workerThreads.Worker;
  const originalCpus = os.cpus;

  class PthreadWorker extends OriginalWorker {
    constructor(
      filename: string | URL,
      options?: ConstructorParameters<typeof OriginalWorker>[1],
    ) {
      const isBlob = String(filename).startsWith("blob:");
      super(
        isBlob ? WORKER_PRELUDE + workerSource : filename,
        isBlob ? { ...options, eval: true } : options,
      );
    }
    override postMessage(message: unknown, transfer?: readonly unknown[]): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown };
      if (m && m.cmd === "load" && typeof m.urlOrBlob !== "string") {
        message = { ...m, urlOrBlob: threadedModulePath };
      }
      // deno-lint-ignore no-explicit-any
      super.postMessage(message, transfer as any);
    }
    // Idle pthread workers must not keep the process alive.
    override ref(): void {}
  }

  const fakeCpus = () => {
    const one = originalCpus.call(os)[0];
    return Array.from({ length: 2 * threads }, () => one);
  };
  // deno-lint-ignore no-explicit-any
  const mutableWorkerThreads = workerThreads as any;
  // deno-lint-ignore no-explicit-any
  const mutableOs = os as any;
  // Emscripten's node glue also writes globals (`global.Worker =
  // nodeWorkerThreads.Worker`); the user's runtime gets its own back.
  if (failNext) {
    failNext = false;
    throw new Error("threaded start failed on purpose (failNextThreadedStart)");
  }
  const globals = snapshotGlobals();
  mutableWorkerThreads.Worker = PthreadWorker;
  mutableOs.cpus = fakeCpus;
  try {
    return await start();
  } finally {
    mutableWorkerThreads.Worker = OriginalWorker;
    mutableOs.cpus = originalCpus;
    restoreGlobals(globals);
  }
}

type GlobalSnapshot = Map<string | symbol, PropertyDescriptor>;

function snapshotGlobals(): GlobalSnapshot {
  return new Map(
    Reflect.ownKeys(globalThis).map((key) => [
      key,
      Object.getOwnPropertyDescriptor(globalThis, key)!,
    ]),
  );
}

/** Puts back every global property that changed, and removes those that were added. */
function restoreGlobals(before: GlobalSnapshot): void {
  for (const key of Reflect.ownKeys(globalThis)) {
    const was = before.get(key);
    const now = Object.getOwnPropertyDescriptor(globalThis, key)!;
    if (!was) {
      if (now.configurable) Reflect.deleteProperty(globalThis, key);
    } else if (was.value !== now.value || was.get !== now.get || was.set !== now.set) {
      if (now.configurable) Object.defineProperty(globalThis, key, was);
      else if (now.writable) (globalThis as Record<string | symbol, unknown>)[key] = was.value;
    }
  }
}
