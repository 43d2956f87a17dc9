import { initBackend, tf, vgg16, activationModel } from "../mod.ts";
await initBackend();
const m = vgg16({ includeTop: false });
const layer = Deno.args[0] ?? "block5_conv1";
const ex = activationModel(m, [layer]);
const x = tf.randomUniform([1, 150, 150, 3], 128, 148);
const g = tf.grad((input: tf.Tensor) => tf.mean(ex.apply(input) as tf.Tensor) as tf.Scalar);
for (let i = 0; i < 2; i++) { const r = g(x); await r.data(); r.dispose(); }
let t = performance.now(); for (let i = 0; i < 3; i++) { const r = g(x); await r.data(); r.dispose(); } console.log("step", (performance.now() - t) / 3);
t = performance.now(); for (let i = 0; i < 3; i++) { const r = ex.apply(x) as tf.Tensor; await r.data(); r.dispose(); } console.log("fwd", (performance.now() - t) / 3);
const info = await tf.profile(async () => { const r = g(x); await r.data(); r.dispose(); });
const agg = new Map<string, [number, number]>();
for (const k of info.kernels) { const a = agg.get(k.name) ?? [0, 0]; agg.set(k.name, [a[0] + (k.kernelTimeMs as number), a[1] + 1]); }
console.log([...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 10).map(([n, [ms, c]]) => `${n}: ${ms.toFixed(1)} ms (${c})`).join("\n"));
const convs = info.kernels.filter(k => k.name.startsWith("Conv2D")).map(k => `${k.name} ${JSON.stringify(k.inputShapes)} ${(k.kernelTimeMs as number).toFixed(1)}`);
console.log(convs.join("\n"));
