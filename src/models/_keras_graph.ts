/**
 * The wiring of a Functional model config: which call of which layer feeds
 * which, checked and renumbered before TensorFlow.js builds anything.
 *
 * Keras and TensorFlow.js number a layer's calls ("nodes") differently, and
 * Keras itself numbers them two ways:
 * - Keras 2 lists (`[name, node, tensor, kwargs]`, in `.h5` files and in the
 *   `.keras` zips of Keras 2.13–2.15) count a nested model's built-in
 *   input→output node: the first call of a nested Functional, or of a nested
 *   Sequential built with an input shape, is node 1 (`get_network_config`'s
 *   `node_conversion_map` and `_should_skip_first_node`). An InputLayer is
 *   always node 0.
 * - Keras 3 `__keras_tensor__` histories count calls from 0 (a Keras 3 model
 *   has no built-in node); only `input_layers`/`output_layers` add one for a
 *   nested Functional (`node_reindexing_map`; `get_tensor` subtracts it).
 * - TensorFlow.js gives every nested model (and every InputLayer) a node 0
 *   of its own, then appends one node per call, in the order its
 *   `Container.fromConfig` happens to process them; it spins forever on a
 *   reference it cannot satisfy.
 *
 * So every reference is mapped to "call j of layer L" as Keras reads it,
 * checked (the layer exists, has that call and that output; no cycles), and
 * renumbered to the node TensorFlow.js will give that call, found by running
 * TensorFlow.js's own processing order on names only.
 *
 * @module
 */
import type { KerasLayerConfig } from "./_keras_layer_config.ts";
import { KerasFileError } from "./keras_file_error.ts";

/** How a config numbers nodes: Keras 2 lists or Keras 3 tensor histories. */
export type NodeDialect = "keras2" | "keras3";

/** One input of a call: `[layer, node, tensor, kwargs]` after translation. */
type Ref = [string, number, number, Record<string, unknown>];

interface LayerCalls {
  name: string;
  className: string;
  isModel: boolean;
  /** Keras 2: whether Keras counts a built-in first node for this layer. */
  keras2Skip: boolean;
  /** Number of outputs a call of this layer has. */
  outputs: number;
  /** Each call's input references, as Keras wrote them. */
  calls: Ref[][];
}

/** A layer reference read out of a config, or a named error. */
function readRef(value: unknown, where: string, label: string): Ref {
  if (
    !Array.isArray(value) || value.length < 3 || value.length > 4 ||
    typeof value[0] !== "string" || !Number.isInteger(value[1]) || !Number.isInteger(value[2])
  ) {
    throw new KerasFileError(
      `${label}: ${where} has a malformed layer reference ${
        JSON.stringify(value)?.slice(0, 120)
      } (expected [layer name, node index, tensor index, kwargs?])`,
    );
  }
  const kwargs = value[3] ?? {};
  if (typeof kwargs !== "object" || Array.isArray(kwargs)) {
    throw new KerasFileError(`${label}: ${where} has a reference with malformed call arguments`);
  }
  return [value[0], value[1], value[2], kwargs as Record<string, unknown>];
}

function firstLayerHasShape(layer: KerasLayerConfig): boolean {
  const first = layer.config.layers?.[0];
  if (!first) return false;
  return first.class_name === "InputLayer" || first.config?.batch_input_shape != null ||
    first.config?.batch_shape != null || layer.config.build_input_shape != null;
}

function outputCount(layer: KerasLayerConfig): number {
  if (layer.class_name === "Sequential") return 1;
  const outputs = layer.config.output_layers;
  if (!Array.isArray(outputs)) return 1;
  return typeof outputs[0] === "string" ? 1 : outputs.length;
}

/**
 * Checks and renumbers the wiring of one Functional model's translated
 * layers (their `inbound_nodes` already lists) and its `input_layers` and
 * `output_layers`, in place. Throws a {@linkcode KerasFileError} naming the
 * layer and the reference for anything TensorFlow.js could not build.
 */
export function wireFunctional(
  model: { name: string; layers: KerasLayerConfig[]; inputs: unknown; outputs: unknown },
  dialect: NodeDialect,
  label: string,
): { inputs: Ref[]; outputs: Ref[] } {
  const where = `model "${model.name}"`;
  const byName = new Map<string, LayerCalls>();
  for (const layer of model.layers) {
    const name = String(layer.name ?? layer.config?.name ?? "");
    if (name === "") throw new KerasFileError(`${label}: ${where} has a layer without a name`);
    if (byName.has(name)) {
      throw new KerasFileError(`${label}: ${where} has two layers named "${name}"`);
    }
    const nodes = layer.inbound_nodes ?? [];
    if (!Array.isArray(nodes)) {
      throw new KerasFileError(`${label}: layer "${name}" has inbound_nodes that are not a list`);
    }
    const isModel = ["Sequential", "Model", "Functional"].includes(layer.class_name);
    byName.set(name, {
      name,
      className: layer.class_name,
      isModel,
      keras2Skip: isModel && (layer.class_name !== "Sequential" || firstLayerHasShape(layer)),
      outputs: isModel ? outputCount(layer) : 1,
      calls: nodes.map((node, i) => {
        if (!Array.isArray(node)) {
          throw new KerasFileError(`${label}: layer "${name}" call ${i} is not a list of inputs`);
        }
        return node.map((ref) => readRef(ref, `layer "${name}" call ${i}`, label));
      }),
    });
    if (layer.class_name === "InputLayer" && nodes.length > 0) {
      throw new KerasFileError(`${label}: input layer "${name}" has inbound nodes`);
    }
    if (layer.class_name !== "InputLayer" && nodes.length === 0) {
      throw new KerasFileError(
        `${label}: layer "${name}" (${layer.class_name}) is never called in ${where}: nothing feeds it`,
      );
    }
  }

  /** The call of `target` a reference means, as Keras reads it (-1: the input node). */
  const callIndex = (ref: Ref, context: string, endpoint: boolean): number => {
    const target = byName.get(ref[0]);
    if (!target) {
      throw new KerasFileError(
        `${label}: ${context} refers to layer "${ref[0]}", which ${where} does not have`,
      );
    }
    if (ref[2] < 0 || ref[2] >= target.outputs) {
      throw new KerasFileError(
        `${label}: ${context} refers to output ${ref[2]} of "${
          ref[0]
        }", which has ${target.outputs}`,
      );
    }
    if (target.className === "InputLayer") {
      if (ref[1] !== 0) {
        throw new KerasFileError(
          `${label}: ${context} refers to node ${ref[1]} of input layer "${
            ref[0]
          }", which has only node 0`,
        );
      }
      return -1;
    }
    const skip = dialect === "keras2"
      ? (target.keras2Skip ? 1 : 0)
      : (endpoint && target.isModel && target.className !== "Sequential" ? 1 : 0);
    const call = ref[1] - skip;
    if (call < 0 || call >= target.calls.length) {
      const first = skip;
      const last = skip + target.calls.length - 1;
      throw new KerasFileError(
        `${label}: ${context} refers to node ${ref[1]} of "${ref[0]}" (${target.className}), ` +
          `which is called ${target.calls.length} time(s) in ${where}: its nodes are ${first}…${last}`,
      );
    }
    return call;
  };

  // Each call's inputs as [layer, call] pairs.
  const needs = new Map<string, [string, number][][]>();
  for (const layer of byName.values()) {
    needs.set(
      layer.name,
      layer.calls.map((call, i) =>
        call.map((ref) => [ref[0], callIndex(ref, `layer "${layer.name}" call ${i}`, false)])
      ),
    );
  }

  // TensorFlow.js's Container.fromConfig loop, on names: the order in which
  // calls are applied decides the node numbers they get.
  const applied = new Map<string, number[]>(); // layer → node per call
  const count = new Map<string, number>();
  for (const layer of byName.values()) {
    applied.set(layer.name, layer.calls.map(() => -1));
    // Nested models and InputLayers start with a node of their own in tfjs.
    count.set(layer.name, layer.isModel || layer.className === "InputLayer" ? 1 : 0);
  }
  const ready = ([name, call]: [string, number]) => call < 0 || applied.get(name)![call] >= 0;
  const pending = new Map<string, number[]>();
  for (const layer of byName.values()) {
    if (layer.calls.length > 0) pending.set(layer.name, layer.calls.map((_, i) => i));
  }
  const order = model.layers.map((l) => String(l.name ?? l.config.name));
  // Each pass applies at least one call, so there are at most as many passes as calls.
  while (pending.size > 0) {
    let progress = false;
    for (const name of order) {
      const calls = pending.get(name);
      if (!calls) continue;
      pending.delete(name);
      for (const call of calls) {
        if (needs.get(name)![call].every(ready)) {
          const node = count.get(name)!;
          applied.get(name)![call] = node;
          count.set(name, node + 1);
          progress = true;
        } else {
          pending.set(name, [...(pending.get(name) ?? []), call]);
        }
      }
    }
    if (!progress) {
      const stuck = [...pending.keys()].slice(0, 5).map((n) => `"${n}"`).join(", ");
      throw new KerasFileError(
        `${label}: ${where} has a cycle: layers ${stuck} wait for each other's outputs`,
      );
    }
  }

  const renumber = (ref: Ref, context: string, endpoint: boolean): Ref => {
    const call = callIndex(ref, context, endpoint);
    return [ref[0], call < 0 ? 0 : applied.get(ref[0])![call], ref[2], ref[3]];
  };
  for (const layer of model.layers) {
    const name = String(layer.name ?? layer.config.name);
    layer.inbound_nodes = byName.get(name)!.calls.map((call, i) =>
      call.map((ref) => renumber(ref, `layer "${name}" call ${i}`, false))
    );
  }
  const endpoints = (refs: unknown, what: string): Ref[] => {
    const list = Array.isArray(refs) && typeof refs[0] === "string" ? [refs] : refs;
    if (!Array.isArray(list) || list.length === 0) {
      throw new KerasFileError(`${label}: ${where} has no ${what}`);
    }
    return list.map((ref, i) =>
      renumber(readRef(ref, `${where} ${what}[${i}]`, label), `${where} ${what}[${i}]`, true)
    );
  };
  const inputs = endpoints(model.inputs, "input_layers");
  for (const ref of inputs) {
    if (byName.get(ref[0])!.className !== "InputLayer") {
      throw new KerasFileError(`${label}: ${where} input "${ref[0]}" is not an InputLayer`);
    }
  }
  return { inputs, outputs: endpoints(model.outputs, "output_layers") };
}
