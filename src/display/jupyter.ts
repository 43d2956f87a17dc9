/**
 * Deno's Jupyter kernel: rich outputs as MIME bundles, and live outputs that
 * update in place.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { jupyterApi, sendBundle } from "../_jupyter_api.ts";

/** The symbol Deno's kernel calls to render an object (`Deno.jupyter.$display`). */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/**
 * Whether this code runs inside Deno's Jupyter kernel.
 *
 * @example
 * ```ts
 * import { inJupyter } from "./jupyter.ts";
 * if (!inJupyter()) console.log("figures will be written to files");
 * ```
 */
export function inJupyter(): boolean {
  return jupyterApi() !== undefined;
}

/**
 * Base64 without a `data:` prefix, as Jupyter wants binary MIME values.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { toBase64 } from "./jupyter.ts";
 * assertEquals(toBase64(new Uint8Array([1, 2, 3])), "AQID");
 * ```
 */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * Shows a MIME bundle in the notebook (no-op outside a kernel). With
 * `displayId`, later calls with `update: true` replace the same output.
 *
 * @example
 * ```ts
 * import { displayBundle } from "./jupyter.ts";
 * await displayBundle({ "text/markdown": "**hello**", "text/plain": "hello" });
 * ```
 */
export async function displayBundle(
  bundle: Record<string, string | unknown>,
  options: { displayId?: string; update?: boolean } = {},
): Promise<void> {
  await sendBundle(bundle, {
    ...(options.displayId ? { display_id: options.displayId } : {}),
    ...(options.update ? { update: true } : {}),
  });
}

/**
 * Shows anything that renders itself (a figure, a summary), or a line of
 * text, in the notebook, as an awaited display message: it lands under the
 * cell that made it (Deno 2.9's kernel can put stdout, or a cell's value,
 * printed late under the next cell). Resolves to nothing, so that as a cell's
 * last statement it adds no value of its own. Outside a kernel, text is
 * printed and figures are left to the caller (`save`).
 *
 * @example
 * ```ts
 * import { display, matshow } from "convscope";
 * const fig = matshow({ width: 2, height: 2, data: [0, 1, 2, 3] });
 * await display(fig); // in a notebook; elsewhere: await fig.save("out/matshow.png")
 * await display(`a 2×2 matrix, ${fig.width}px wide`);
 * ```
 */
export async function display(
  value: string | { [JUPYTER_DISPLAY](): Record<string, string | unknown> },
  options: { displayId?: string; update?: boolean } = {},
): Promise<void> {
  if (!inJupyter()) {
    if (typeof value === "string") console.log(value);
    return;
  }
  await displayBundle(
    typeof value === "string" ? { "text/plain": value } : value[JUPYTER_DISPLAY](),
    options,
  );
}
