/**
 * Run by backend_hygiene_test.ts in a fresh process: starts the backend as a
 * user's notebook would, then reports what it changed and what it got.
 */
import os from "node:os";
import workerThreads from "node:worker_threads";
import { initBackend, tf } from "../mod.ts";
import { failNextThreadedStart } from "../src/backend/threads.ts";

if (Deno.env.get("CONVSCOPE_PROBE_FAIL_THREADS") === "1") failNextThreadedStart();

const globalsBefore = new Map(
  Reflect.ownKeys(globalThis).map((k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)]),
);
const WorkerBefore = globalThis.Worker;
const cpusBefore = os.cpus;
const nodeWorkerBefore = workerThreads.Worker;

const sequence = JSON.parse(Deno.args[0] ?? "[{}]") as Record<string, unknown>[];
const states = [];
let info;
for (const options of sequence) {
  info = await initBackend(options);
  const marked = (name: string) =>
    Boolean((tf.getKernel(name, "wasm") as { convscope?: boolean } | undefined)?.convscope);
  states.push({ options, fastMaxPoolGrad: marked("MaxPoolGrad"), fastConv2D: marked("Conv2D") });
}

const changed: string[] = [];
for (const key of Reflect.ownKeys(globalThis)) {
  const was = globalsBefore.get(key);
  const now = Object.getOwnPropertyDescriptor(globalThis, key);
  if (!was) changed.push(`added ${String(key)}`);
  else if (!Object.is(was.value, now?.value) || was.get !== now?.get) {
    changed.push(`changed ${String(key)}`);
  }
}

// A user's own module worker, started after initBackend.
const worker = new Worker(new URL("./_echo_worker.ts", import.meta.url).href, { type: "module" });
const reply = await Promise.race([
  new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.postMessage("ping");
  }),
  new Promise((resolve) => setTimeout(() => resolve("no reply in 10 s"), 10_000)),
]);
worker.terminate();

// The engine still computes after the globals went back.
const y = tf.tidy(() =>
  tf.conv2d(
    tf.ones([1, 16, 16, 32]) as tf.Tensor4D,
    tf.ones([3, 3, 32, 32]) as tf.Tensor4D,
    1,
    "same",
  )
    .max().dataSync()[0]
);

console.log(JSON.stringify({
  info,
  states,
  cores: navigator.hardwareConcurrency,
  changed,
  workerIsOriginal: globalThis.Worker === WorkerBefore,
  cpusIsOriginal: os.cpus === cpusBefore,
  nodeWorkerIsOriginal: workerThreads.Worker === nodeWorkerBefore,
  reply,
  conv: y,
}));
Deno.exit(0);
