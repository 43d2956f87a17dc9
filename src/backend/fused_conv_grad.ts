/**
 * Conv2D + bias + ReLU as one kernel while gradients are recorded.
 *
 * tfjs-core runs a layer's fused convolution unfused whenever a gradient is
 * being recorded and the activation is not linear: Conv2D, then Add (bias)
 * and Relu over the whole output, and in the backward pass Step, Cast and
 * Multiply, each a full pass over memory. Gradient ascent and training are
 * exactly that case. Here a Conv2D layer with a ReLU or linear activation
 * calls one kernel that delegates to the backend's `FusedConv2D` (XNNPACK
 * fuses bias and ReLU), with a gradient registered per input, so the engine
 * computes only the gradients a caller needs (gradient ascent never needs the
 * filter's).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { reluGradientOf } from "./relu_gradient.ts";

/** The kernel name; its gradient is registered with tfjs. */
export const FUSED_CONV_KERNEL = "ConvscopeFusedConv2D";

interface FusedAttrs {
  strides: [number, number];
  pad: "valid" | "same";
  activation: "relu" | "linear";
}

interface ConvLayerInternals {
  rank: number;
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number[];
  activation: { getClassName(): string };
}

let registered = false;
let enabledBackends = new Set<string>();

function registerKernelAndGradient(): void {
  for (const backendName of ["wasm", "cpu"]) {
    if (!tf.getKernel("FusedConv2D", backendName)) continue;
    if (tf.getKernel(FUSED_CONV_KERNEL, backendName)) continue;
    tf.registerKernel({
      kernelName: FUSED_CONV_KERNEL,
      backendName,
      // Looked up per call: convscope may replace FusedConv2D after this registers.
      kernelFunc: (args) =>
        tf.getKernel("FusedConv2D", backendName)!.kernelFunc({
          ...args,
          attrs: { ...args.attrs, dataFormat: "NHWC", dilations: [1, 1], leakyreluAlpha: 0 },
        }),
    });
  }
  tf.registerGradient({
    kernelName: FUSED_CONV_KERNEL,
    inputsToSave: ["x", "filter"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved;
      const { strides, pad, activation } = attrs as unknown as FusedAttrs;
      // ReLU's derivative from its output: y > 0 exactly where the input was.
      const g = activation === "relu" ? reluGradientOf(dy as tf.Tensor, y) : dy as tf.Tensor;
      const conv = { strides, pad, dataFormat: "NHWC" };
      return {
        x: () =>
          tf.engine().runKernel("Conv2DBackpropInput", { dy: g, filter }, {
            ...conv,
            inputShape: x.shape,
          }) as tf.Tensor,
        filter: () =>
          tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: g }, {
            ...conv,
            filterShape: filter.shape,
          }) as tf.Tensor,
        bias: () => tf.sum(g, [0, 1, 2]),
      };
    },
  });
}

/**
 * Makes `Conv2D` layers use the fused kernel while gradients are recorded on
 * the named backends (channels-last, no dilation, ReLU or linear activation;
 * any other layer runs as tfjs runs it). Idempotent; the set of backends is
 * replaced on each call.
 */
export function useFusedConvGradients(backends: readonly string[]): void {
  enabledBackends = new Set(backends);
  if (registered) return;
  registered = true;
  registerKernelAndGradient();
  const proto = Object.getPrototypeOf(tf.layers.conv2d({ filters: 1, kernelSize: 1 })) as {
    call(this: ConvLayerInternals, inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): tf.Tensor;
  };
  const original = proto.call;
  proto.call = function (inputs, kwargs) {
    const activation = this.activation.getClassName().toLowerCase();
    const eligible = tf.engine().state.gradientDepth > 0 &&
      enabledBackends.has(tf.getBackend()) &&
      this.rank === 2 &&
      this.dataFormat === "channelsLast" &&
      this.dilationRate.every((d) => d === 1) &&
      (activation === "relu" || activation === "linear") &&
      (this.padding === "valid" || this.padding === "same");
    if (!eligible) return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const attrs: FusedAttrs = {
        strides: this.strides as [number, number],
        pad: this.padding as "valid" | "same",
        activation: activation as "relu" | "linear",
      };
      return tf.engine().runKernel(
        FUSED_CONV_KERNEL,
        { x, filter: this.kernel.read(), ...(this.bias ? { bias: this.bias.read() } : {}) },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor;
    });
  };
}
