/**
 * One feature-map grid per layer for an input: the book's figure series.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { getActivations, type LayersArg } from "../methods/activations.ts";
import { featureGrid, type FeatureGridOptions } from "../plot/feature_grid.ts";
import type { Figure } from "../plot/figure.ts";

/** Options of {@linkcode showActivations}. */
export interface ShowActivationsOptions extends Omit<FeatureGridOptions, "title" | "channels"> {
  /** Which layers; default every conv/pool layer (dense and flatten are skipped). */
  layers?: LayersArg;
  /** Title of each grid; default `"<layer name>  [h×w×c]"`. */
  title?: (name: string, shape: number[]) => string;
}

/**
 * Computes the activations of `image` and returns one feature-map grid per
 * layer, in layer order, titled with the layer name. Tensors are disposed.
 *
 * @example
 * ```ts
 * import { bookConvnet, initBackend, loadImage, showActivations } from "convscope";
 * await initBackend();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * const figures = showActivations(bookConvnet(), image.div(255));
 * for (const fig of figures) await fig.save(`out/${fig.title.split(" ")[0]}.png`);
 * ```
 */
export function showActivations(
  model: tf.LayersModel,
  image: tf.Tensor,
  options: ShowActivationsOptions = {},
): Figure[] {
  const activations = getActivations(model, image, options.layers);
  try {
    return activations.map(({ name, activation }) =>
      featureGrid(activation, {
        ...options,
        title: options.title
          ? options.title(name, activation.shape)
          : `${name}  (${activation.shape.slice(1).join("×")})`,
      })
    );
  } finally {
    for (const a of activations) a.activation.dispose();
  }
}
