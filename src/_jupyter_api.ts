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
