/**
 * Text made safe inside HTML, for every page and rich output convscope writes
 * (model summaries, the explorer, the demo's gallery).
 *
 * @module
 */

/**
 * Escapes the characters HTML gives a meaning, in text and in quoted attributes.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { escapeHtml } from "./_html.ts";
 * assertEquals(escapeHtml(`<b title="x">'&'</b>`), "&lt;b title=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;");
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}
