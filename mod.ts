/**
 * convscope: see what convolutional networks learn, in TypeScript, in Deno
 * and in Deno's Jupyter kernel. Intermediate activations as feature-map
 * grids, filter patterns, class activation maps, and the plotting helpers
 * around them (matshow, imshow, colormaps), computed with TensorFlow.js on
 * the WASM backend.
 *
 * ```ts
 * import { bookConvnet, initBackend, loadImage, showActivations } from "convscope";
 * await initBackend();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * for (const fig of showActivations(bookConvnet(), image.div(255))) await fig.save(`out/${fig.title}.png`);
 * ```
 *
 * @module
 */
export * from "./src/backend/init.ts";
export * from "./src/io/source.ts";
export * from "./src/image/load.ts";
export * from "./src/image/resize.ts";
export * from "./src/models/architectures.ts";
export * from "./src/models/layers.ts";
export * from "./src/methods/activations.ts";
export * from "./src/plot/colormaps.ts";
export * from "./src/plot/raster.ts";
export * from "./src/plot/figure.ts";
export * from "./src/plot/axes.ts";
export * from "./src/plot/matshow.ts";
export * from "./src/plot/feature_grid.ts";
export * from "./src/plot/show_activations.ts";
export * from "./src/display/jupyter.ts";
export * from "./src/backend/memory.ts";
export * from "./src/methods/gradient_ascent.ts";
export * from "./src/methods/filter_patterns.ts";
export * from "./src/display/progress.ts";

/**
 * The TensorFlow.js namespace convscope computes with, so that notebooks need one import.
 *
 * @example
 * ```ts
 * import { tf } from "convscope";
 * console.log(tf.version.tfjs); // "4.22.0"
 * ```
 */
export * as tf from "@tensorflow/tfjs";
export * from "./src/data/random.ts";
export * from "./src/data/augment.ts";
export * from "./src/data/dataset.ts";
export * from "./src/models/save.ts";
export * from "./src/train/fit.ts";
export * from "./src/plot/charts.ts";
export * from "./src/models/book_model.ts";
export * from "./src/models/nested.ts";
export * from "./src/methods/gradcam.ts";
export * from "./src/methods/saliency.ts";
export * from "./src/plot/heatmap.ts";
export * from "./src/data/mnist.ts";
export * from "./src/methods/regularizers.ts";
export * from "./src/methods/activation_maximization.ts";
export * from "./src/methods/fourier.ts";
export { loadKerasWeights } from "./src/models/keras_h5.ts";
export { isHdf5 } from "./src/models/hdf5.ts";
export * from "./src/models/keras_config.ts";
export { kerasSnakeCase } from "./src/models/keras_v3.ts";
export * from "./src/models/load_keras.ts";
export * from "./src/models/summary.ts";
export * from "./src/models/metadata.ts";
export * from "./src/io/zip.ts";
