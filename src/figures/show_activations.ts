/**
 * One feature-map grid per layer for an input: the book's figure series.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { getActivations } from "../methods/activations.ts";
import { featureGrid } from "../plot/feature_grid.ts";
import type { Figure } from "../plot/figure.ts";
import type { FigureOptions } from "../plot/figure_options.ts";

/**
 * Computes the activations of `image` and returns one feature-map grid per
 * layer, in layer order, titled with the layer name. Tensors are disposed.
 *
 * @example
 * ```ts
 * import { bookConvnet, initBackend, loadImage, showActivations } from "convscope";
 * await initBackend();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * const figures = await showActivations(bookConvnet(), image.div(255));
 * for (const fig of figures) await fig.save(`out/${fig.title.split(" ")[0]}.png`);
 * ```
 */
export async function showActivations(
  model: tf.LayersModel,
  image: tf.Tensor,
  options: FigureOptions & {
    /** Which layers: names or indices, or a predicate. Default every conv/pool layer. */
    layers?:
      | readonly (string | number)[]
      | ((layer: tf.layers.Layer, index: number) => boolean);
    /** Title of each grid; default `"<layer name>  (h×w×c)"`. */
    titles?: (name: string, shape: number[]) => string;
  } = {},
): Promise<Figure[]> {
  const activations = await getActivations(model, image, options.layers);
  try {
    // getActivations read the values back: the grids draw them on any backend.
    return activations.map(({ name, activation }) =>
      featureGrid(activation, {
        ...options,
        title: options.titles
          ? options.titles(name, activation.shape)
          : `${name}  (${activation.shape.slice(1).join("×")})`,
      })
    );
  } finally {
    for (const a of activations) a.activation.dispose();
  }
}
