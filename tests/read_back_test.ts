import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { initBackend } from "../src/backend/init.ts";

await initBackend();

Deno.test("values read from the WASM heap are private copies of the asked range, for each numeric dtype", () => {
  const backend = tf.backend() as unknown as {
    readSync(dataId: unknown, start?: number, end?: number): Float32Array | Int32Array | Uint8Array;
  };
  const cases: [tf.Tensor, number[]][] = [
    [tf.tensor1d([1.5, -2, 3, 4.25, 5, 6]), [1.5, -2, 3, 4.25, 5, 6]],
    [tf.tensor1d([7, -8, 9, 10, 11, 12], "int32"), [7, -8, 9, 10, 11, 12]],
    [tf.tensor1d([true, false, true, true, false, false], "bool"), [1, 0, 1, 1, 0, 0]],
  ];
  for (const [t, values] of cases) {
    const all = t.dataSync();
    assertEquals([...all], values, t.dtype);
    // Not a view of tfjs's (shared) memory: writing to it leaves the tensor as it was.
    assert(!(all.buffer instanceof SharedArrayBuffer), `${t.dtype}: a private buffer`);
    (all as unknown as number[])[0] = 99;
    assertEquals([...t.dataSync()], values, `${t.dtype}: the tensor unchanged`);
    assertEquals(
      Array.from(backend.readSync(t.dataId, 2, 5)),
      values.slice(2, 5),
      `${t.dtype}: range`,
    );
    t.dispose();
  }
});
