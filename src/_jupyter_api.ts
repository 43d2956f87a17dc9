/**
 * The one probe for Deno's Jupyter API (`Deno.jupyter`), shared by notebook
 * display and the library's notices.
 *
 * @module
 */

/** The part of `Deno.jupyter` convscope uses. */
export interface JupyterApi {
  display(
    value: unknown,
    options?: { raw?: boolean; update?: boolean; display_id?: string },
  ): Promise<void>;
}

/** `Deno.jupyter` inside Deno's kernel, undefined elsewhere. */
export function jupyterApi(): JupyterApi | undefined {
  // Outside `deno jupyter`, merely reading Deno.jupyter throws.
  try {
    const api = (globalThis as { Deno?: { jupyter?: JupyterApi } }).Deno?.jupyter;
    return typeof api?.display === "function" ? api : undefined;
  } catch {
    return undefined;
  }
}

/** How long a message is given to leave before the call that sent it resolves, ms. */
const LEAVE_MS = 20;

/**
 * Sends a MIME bundle to the front end (`raw`, as Jupyter wants it) and
 * resolves once it has had time to leave; false outside a kernel. Deno 2.9's
 * kernel stamps a message with the last request it has received, so one that
 * leaves after the cell's reply lands under the next cell (seen in the live
 * Notebook with Run All); the pause lets it leave while the cell still runs.
 */
export async function sendBundle(
  bundle: Record<string, unknown>,
  options: { display_id?: string; update?: boolean } = {},
): Promise<boolean> {
  const api = jupyterApi();
  if (!api) return false;
  await api.display(bundle, { raw: true, ...options });
  await new Promise((resolve) => setTimeout(resolve, LEAVE_MS));
  return true;
}
