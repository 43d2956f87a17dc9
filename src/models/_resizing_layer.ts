/**
 * Keras's `Resizing` preprocessing layer, which acts at inference: models
 * saved with it resize their input before the first convolution. It computes
 * what Keras computes with the TensorFlow backend: `tf.image.resize` with
 * half-pixel centres (bilinear or nearest, no antialias), after an optional
 * centred crop or pad to the target's aspect ratio.
 *
 * Registered under Keras's class name, replacing tfjs's own `Resizing`
 * (which samples with aligned corners and so differs from Keras).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface ResizingArgs {
  height: number;
  width: number;
  interpolation?: "bilinear" | "nearest";
  cropToAspectRatio?: boolean;
  padToAspectRatio?: boolean;
  fillValue?: number;
  name?: string;
  trainable?: boolean;
  dtype?: tf.DataType;
  batchInputShape?: (number | null)[];
  inputShape?: (number | null)[];
}

class KerasResizing extends tf.layers.Layer {
  static className = "Resizing";
  readonly height: number;
  readonly width: number;
  readonly interpolation: "bilinear" | "nearest";
  readonly cropToAspectRatio: boolean;
  readonly padToAspectRatio: boolean;
  readonly fillValue: number;

  constructor(args: ResizingArgs) {
    super(args as unknown as tf.serialization.ConfigDict);
    const size = (v: number, what: string) => {
      if (!Number.isInteger(v) || v < 1 || v > 1 << 15) {
        throw new Error(`Resizing ${what} must be an integer from 1 to 32768, not ${v}`);
      }
      return v;
    };
    this.height = size(args.height, "height");
    this.width = size(args.width, "width");
    this.interpolation = args.interpolation ?? "bilinear";
    this.cropToAspectRatio = Boolean(args.cropToAspectRatio);
    this.padToAspectRatio = Boolean(args.padToAspectRatio);
    this.fillValue = Number(args.fillValue ?? 0);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -3), this.height, this.width, shape[shape.length - 1]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      let x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [, h, w] = x.shape;
      if (this.cropToAspectRatio) {
        // keras.src.backend.tensorflow.image.resize: integer crop, centred.
        const cropH = Math.max(Math.min(h, Math.trunc((w * this.height) / this.width)), 1);
        const cropW = Math.max(Math.min(w, Math.trunc((h * this.width) / this.height)), 1);
        const top = Math.trunc((h - cropH) / 2);
        const left = Math.trunc((w - cropW) / 2);
        x = x.slice([0, top, left, 0], [-1, cropH, cropW, -1]);
      } else if (this.padToAspectRatio) {
        const padH = Math.max(h, Math.trunc((w * this.height) / this.width));
        const padW = Math.max(w, Math.trunc((h * this.width) / this.height));
        const top = Math.trunc((padH - h) / 2);
        const left = Math.trunc((padW - w) / 2);
        x = x.pad([[0, 0], [top, padH - h - top], [left, padW - w - left], [0, 0]], this.fillValue);
      }
      const size: [number, number] = [this.height, this.width];
      return this.interpolation === "nearest"
        ? tf.image.resizeNearestNeighbor(x, size, false, true)
        : tf.image.resizeBilinear(x, size, false, true);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      height: this.height,
      width: this.width,
      interpolation: this.interpolation,
      cropToAspectRatio: this.cropToAspectRatio,
      padToAspectRatio: this.padToAspectRatio,
      fillValue: this.fillValue,
    };
  }
}

tf.serialization.registerClass(KerasResizing);
