/**
 * Lucid's feature-visualisation recipe (Olah et al., "Feature Visualization",
 * Distill 2017; lucid/optvis and its PyTorch port lucent): the image is
 * parameterised by a 1/f-scaled Fourier spectrum in a decorrelated colour
 * space, squashed into [0, 1] by a sigmoid, and every step sees it through a
 * random stack of pads, jitters, scalings and rotations. Optimised with Adam.
 *
 * tfjs's WASM backend has no FFT kernel, so the inverse real 2-D DFT is done
 * as four small matrix products, which XNNPACK runs fast and differentiates.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { SeededRandom } from "../data/random.ts";
import { tfSeed } from "../backend/tf_seed.ts";

/** Lucid's colour correlation (square root of the ImageNet colour covariance, via SVD). */
const COLOR_CORRELATION_SVD_SQRT = [
  [0.26, 0.09, 0.02],
  [0.27, 0.0, -0.05],
  [0.27, -0.09, 0.03],
];

/** |frequency| of each rfft2 bin, like Lucid's `rfft2d_freqs`. */
function frequencies(h: number, w: number): Float32Array {
  const wf = Math.floor(w / 2) + 1;
  const out = new Float32Array(h * wf);
  for (let y = 0; y < h; y++) {
    const fy = (y <= (h - 1) / 2 ? y : y - h) / h; // np.fft.fftfreq
    for (let x = 0; x < wf; x++) {
      const fx = x / w; // np.fft.rfftfreq
      out[y * wf + x] = Math.sqrt(fx * fx + fy * fy);
    }
  }
  return out;
}

/** The matrices of the inverse real 2-D DFT (`np.fft.irfft2d`) for an h×w image. */
function inverseDftMatrices(h: number, w: number) {
  const wf = Math.floor(w / 2) + 1;
  const cy = new Float32Array(h * h), sy = new Float32Array(h * h);
  for (let y = 0; y < h; y++) {
    for (let k = 0; k < h; k++) {
      const a = (2 * Math.PI * k * y) / h;
      cy[y * h + k] = Math.cos(a);
      sy[y * h + k] = Math.sin(a);
    }
  }
  // Hermitian symmetry: every bin but DC (and Nyquist for even w) stands for two.
  const cx = new Float32Array(wf * w), sx = new Float32Array(wf * w);
  for (let k = 0; k < wf; k++) {
    const weight = k === 0 || (w % 2 === 0 && k === w / 2) ? 1 : 2;
    for (let x = 0; x < w; x++) {
      const a = (2 * Math.PI * k * x) / w;
      cx[k * w + x] = (weight * Math.cos(a)) / (h * w);
      sx[k * w + x] = (weight * Math.sin(a)) / (h * w);
    }
  }
  return {
    cy: tf.tensor2d(cy, [h, h]),
    sy: tf.tensor2d(sy, [h, h]),
    cx: tf.tensor2d(cx, [wf, w]),
    sx: tf.tensor2d(sx, [wf, w]),
  };
}

/** A batch of images parameterised in Fourier space; `render()` gives `[n, h, w, 3]` in [0, 1]. */
export interface FourierImage {
  /** The trainable spectrum, `[2, n·3, h, w/2 + 1]` (real and imaginary parts). */
  spectrum: tf.Variable;
  /** The images it stands for, differentiable. */
  render(): tf.Tensor4D;
  /** Frees the spectrum and the DFT matrices. */
  dispose(): void;
}

/**
 * Lucid's `param.image(size, fft=True, decorrelate=True)`: spectrum N(0, sd)
 * scaled by 1/max(f, 1/size) · √(hw), inverse DFT, ÷4, decorrelated colour,
 * sigmoid.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend } from "convscope";
 * import { fourierImage } from "./fourier.ts";
 * await initBackend();
 * const param = fourierImage(2, 64, 64, 7);
 * assertEquals(param.render().shape, [2, 64, 64, 3]);
 * param.dispose();
 * ```
 */
export function fourierImage(
  n: number,
  h: number,
  w: number,
  seed: number,
  sd = 0.01,
): FourierImage {
  const wf = Math.floor(w / 2) + 1;
  const freqs = frequencies(h, w);
  const scaleValues = freqs.map((f) => Math.sqrt(w * h) / Math.max(f, 1 / Math.max(w, h)));
  const scale = tf.tensor2d(scaleValues, [h, wf]);
  const { cy, sy, cx, sx } = inverseDftMatrices(h, w);
  const start = tf.randomNormal([2, n * 3, h, wf], 0, sd, "float32", tfSeed(seed));
  const spectrum = tf.variable(start);
  start.dispose(); // the variable holds its own reference to the values

  const maxNorm = Math.max(
    ...[0, 1, 2].map((c) => Math.hypot(...COLOR_CORRELATION_SVD_SQRT.map((row) => row[c]))),
  );
  const color = tf.tensor2d(COLOR_CORRELATION_SVD_SQRT.map((row) => row.map((v) => v / maxNorm)));
  const render = () =>
    tf.tidy(() => {
      const re = tf.mul(tf.squeeze(tf.slice(spectrum, [0], [1]), [0]), scale); // [n·3, h, wf]
      const im = tf.mul(tf.squeeze(tf.slice(spectrum, [1], [1]), [0]), scale);
      // Along y: Z = e^{+2πi ky y / h} · X.
      const zr = tf.sub(
        tf.matMul(tf.broadcastTo(cy, [n * 3, h, h]), re),
        tf.matMul(tf.broadcastTo(sy, [n * 3, h, h]), im),
      );
      const zi = tf.add(
        tf.matMul(tf.broadcastTo(sy, [n * 3, h, h]), re),
        tf.matMul(tf.broadcastTo(cy, [n * 3, h, h]), im),
      );
      // Along x, real part only.
      const planes = tf.sub(
        tf.matMul(zr.reshape([n * 3 * h, wf]), cx),
        tf.matMul(zi.reshape([n * 3 * h, wf]), sx),
      ).reshape([n, 3, h, w]);
      const pixels = tf.div(tf.transpose(planes, [0, 2, 3, 1]), 4); // [n, h, w, 3]
      const decorrelated = tf.matMul(pixels.reshape([n * h * w, 3]), color, false, true).reshape([
        n,
        h,
        w,
        3,
      ]);
      return tf.sigmoid(decorrelated) as tf.Tensor4D;
    });
  return {
    spectrum,
    render,
    dispose: () => tf.dispose([spectrum, scale, cy, sy, cx, sx, color]),
  };
}

/**
 * Row-wise linear-interpolation matrices of a shear: row `r` of the result is
 * row `r` of the input shifted by `shear · (r − centre)` pixels.
 */
function shearMatrices(rows: number, cols: number, shear: number): tf.Tensor3D {
  const m = new Float32Array(rows * cols * cols);
  const centre = (rows - 1) / 2;
  for (let r = 0; r < rows; r++) {
    const shift = shear * (r - centre);
    for (let c = 0; c < cols; c++) {
      const src = c - shift;
      const left = Math.floor(src), t = src - left;
      if (left >= 0 && left < cols) m[(r * cols + c) * cols + left] += 1 - t;
      if (left + 1 >= 0 && left + 1 < cols) m[(r * cols + c) * cols + left + 1] += t;
    }
  }
  return tf.tensor3d(m, [rows, cols, cols]);
}

/** Shears rows of `[n, h, w, c]` horizontally; pixels from outside take `fill`. */
function shearRows(x: tf.Tensor4D, shear: number, fill: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const m = shearMatrices(h, w, shear); // [h, w_out, w_in]
  const rows = tf.transpose(x, [1, 0, 3, 2]).reshape([h, n * c, w]); // [h, n·c, w_in]
  const moved = tf.matMul(rows, m, false, true); // [h, n·c, w_out]
  const coverage = tf.sum(m, 2).reshape([h, 1, w]); // how much of each output pixel came from inside
  const filled = tf.add(moved, tf.mul(tf.sub(1, coverage), fill));
  return tf.transpose(filled.reshape([h, n, c, w]), [1, 0, 3, 2]) as tf.Tensor4D;
}

/**
 * Rotation by three shears (Paeth), made of matrix products so that it is
 * differentiable (tfjs has no gradient for `rotateWithOffset`).
 */
export function rotateDifferentiable(x: tf.Tensor4D, radians: number, fill: number): tf.Tensor4D {
  return tf.tidy(() => {
    const a = -Math.tan(radians / 2), b = Math.sin(radians);
    const swap = (t: tf.Tensor4D) => tf.transpose(t, [0, 2, 1, 3]) as tf.Tensor4D;
    let y = shearRows(x, a, fill);
    y = swap(shearRows(swap(y), b, fill));
    return shearRows(y, a, fill);
  });
}

/**
 * Lucid's `standard_transforms`: pad 12 (grey 0.5), jitter 8, scale by one of
 * 0.90…1.10, rotate by one of −10…10° (0 weighted ×6), jitter 4. Random
 * choices come from `random`, the same for the whole batch.
 */
export function lucidTransforms(images: tf.Tensor4D, random: SeededRandom): tf.Tensor4D {
  return tf.tidy(() => {
    const pick = <T>(xs: T[]) => xs[Math.floor(random.next() * xs.length)];
    let x: tf.Tensor4D = tf.pad(images, [[0, 0], [12, 12], [12, 12], [0, 0]], 0.5);
    const jitter = (t: tf.Tensor4D, d: number) => {
      const [, h, w] = t.shape;
      const oy = Math.floor(random.next() * d), ox = Math.floor(random.next() * d);
      return tf.slice(t, [0, oy, ox, 0], [-1, h - d, w - d, -1]) as tf.Tensor4D;
    };
    x = jitter(x, 8);
    const s = pick(Array.from({ length: 11 }, (_, i) => 1 + (i - 5) / 50));
    const [, h, w] = x.shape;
    x = tf.image.resizeBilinear(x, [Math.round(h * s), Math.round(w * s)]);
    const degrees = pick([...Array.from({ length: 21 }, (_, i) => i - 10), 0, 0, 0, 0, 0]);
    if (degrees !== 0) x = rotateDifferentiable(x, (degrees * Math.PI) / 180, 0.5);
    return jitter(x, 4);
  });
}
