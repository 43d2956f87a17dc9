/**
 * A static HTML page that shows figures with one-line explanations.
 *
 * @module
 */
import { writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { escapeHtml } from "../src/_html.ts";

/** One figure of the gallery. */
export interface GalleryEntry {
  /** Path of the PNG (inside the gallery folder). */
  file: string;
  /** What the reader sees. */
  caption: string;
  /** Optional section heading shown before this entry. */
  section?: string;
}

/** Writes `dir/index.html` listing the entries in order. */
export async function writeGallery(
  dir: string,
  title: string,
  entries: GalleryEntry[],
  options: {
    /** An explorer's HTML (`explore(...).html`), shown first: the gallery is explorable. */
    explorer?: string;
  } = {},
): Promise<string> {
  // Each section folds, so the explorer stays the first thing on the page.
  const sections: string[] = [];
  for (const e of entries) {
    const figure = `<figure><img src="${escapeHtml(basename(e.file))}" alt="${
      escapeHtml(e.caption)
    }" loading="lazy"><figcaption>${escapeHtml(e.caption)}</figcaption></figure>`;
    if (e.section || sections.length === 0) {
      if (sections.length) sections.push("</details>");
      sections.push(
        `<details class="gallery-section"${options.explorer ? "" : " open"}><summary><h2>${
          escapeHtml(e.section ?? "Figures")
        }</h2></summary>`,
      );
    }
    sections.push(figure);
  }
  if (sections.length) sections.push("</details>");
  const explorer = options.explorer
    ? `<h2>Explore the model</h2>\n<p>Open a layer, hover a channel for its values, click it to enlarge it; the static figures follow, each section folded.</p>\n${options.explorer}\n`
    : "";
  const body = explorer + sections.join("\n");
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 2rem auto; max-width: 1400px; color: #222; }
figure { margin: 0 0 2rem; } img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
figcaption { margin-top: .4rem; color: #444; }
summary h2 { display: inline; } details.gallery-section { margin: 1rem 0; } summary { cursor: pointer; }
</style></head><body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
  const path = `${dir.replace(/\/$/, "")}/index.html`;
  await writeFile(path, html);
  return path;
}
