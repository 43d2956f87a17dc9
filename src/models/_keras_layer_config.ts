/**
 * The shape of a Keras model config as Keras 2 and Keras 3 write it, shared
 * by the translation and the wiring check.
 *
 * @module
 */

/** One entry of a Keras `layers` list, Keras 2 or Keras 3 style. */
export interface KerasLayerConfig {
  /** The layer class, e.g. `"Conv2D"`. */
  class_name: string;
  /** The layer's own settings; for nested models, their `layers` too. */
  config: KerasModelSettings & Record<string, unknown>;
  /** The layer name (Functional models repeat it here). */
  name?: string;
  /** Keras 2: `[[[name, node, tensor, kwargs], …]]`; Keras 3: `[{ args, kwargs }]`. */
  inbound_nodes?: unknown[];
  /** Keras 3 only: the Python module of the class. */
  module?: string;
  /** Keras 3 only: a custom class's registered name. */
  registered_name?: string | null;
}

/** The settings of a Sequential or Functional model config. */
export interface KerasModelSettings {
  /** The model or layer name. */
  name?: string;
  /** The layers (models only). */
  layers?: KerasLayerConfig[];
  /** Functional inputs: `[[name, node, tensor], …]`. */
  input_layers?: unknown;
  /** Functional outputs: `[[name, node, tensor], …]`. */
  output_layers?: unknown;
  /** Keras 3 Sequential without an InputLayer. */
  build_input_shape?: number[] | null;
}
