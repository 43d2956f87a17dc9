// The activation-extraction workload in onnxruntime-web (its WASM backend,
// SIMD, the same threads) under Node, for the benchmark's third column.
// Dev-only, and installed outside the project:
//   npm install --prefix .cache/bench-ort onnxruntime-web@1.30.0
//   /usr/bin/python3 bench/export_onnx.py .cache/bench-ort/seed_activations.onnx
//   node bench/ort_reference.mjs THREADS [--quick]
// Prints one JSON line like bench/workloads.ts.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const root = new URL("../", import.meta.url).pathname;
const dir = join(root, ".cache/bench-ort");
// A computed path: the module is not part of the project's graph.
const ort = await import(
  pathToFileURL(join(dir, "node_modules/onnxruntime-web/dist/ort.node.min.mjs")).href
);
const threads = Number(process.argv[2] ?? 2);
const quick = process.argv.includes("--quick");
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1].split("|") : undefined;
ort.env.wasm.numThreads = threads;
const session = await ort.InferenceSession.create(
  await readFile(join(dir, "seed_activations.onnx")),
  { executionProviders: ["wasm"], graphOptimizationLevel: "all" },
);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const results = [];
for (const batch of [1, 16]) {
  const name = `activations, seed convnet, batch ${batch}`;
  if (only && !only.some((o) => name.includes(o))) continue;
  const data = Float32Array.from({ length: batch * 3 * 150 * 150 }, () => Math.random());
  const input = new ort.Tensor("float32", data, [batch, 3, 150, 150]);
  const run = async () => {
    const out = await session.run({ input });
    // Read every output, as the other columns do.
    for (const t of Object.values(out)) t.data[0];
  };
  // Three warm-ups and at least a second of them, as on the other sides.
  const warm = performance.now();
  for (let i = 0; i < (quick ? 1 : 3) || (!quick && performance.now() - warm < 1000); i++) {
    await run();
  }
  const times = [];
  const start = performance.now();
  while (times.length < (quick ? 2 : 25) && performance.now() - start < (quick ? 1000 : 6000)) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  const ms = median(times);
  results.push({ name, ms, runs: times.length, perSecond: (batch * 1000) / ms, unit: "images/s" });
  console.error(`  ${name}: ${ms.toFixed(1)} ms (${times.length} runs)`);
}
console.log(JSON.stringify({ results }));
