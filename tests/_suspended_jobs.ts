// Runs Winograd jobs on both threads for a few seconds with a 1 s helper
// timeout; tests/simd_jobs_test.ts suspends this process (SIGSTOP) for longer
// than that in the middle. Prints the number of convolutions when done.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/init.ts";
import { setHelperTimeout } from "../src/backend/simd_jobs.ts";

await initBackend();
setHelperTimeout(1000);
const x = tf.randomNormal([4, 37, 37, 256]) as tf.Tensor4D;
const k = tf.randomNormal([3, 3, 256, 256], 0, 0.05) as tf.Tensor4D;
tf.conv2d(x, k, 1, "same").dispose();
console.log("ready");
let count = 0;
for (const end = performance.now() + 4000; performance.now() < end; count++) {
  tf.tidy(() => {
    tf.conv2d(x, k, 1, "same").dataSync();
  });
}
console.log(`done: ${count} convolutions`);
