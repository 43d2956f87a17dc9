/**
 * A static HTML page that shows figures with one-line explanations.
 *
 * @module
 */
import { writeFile } from "node:fs/promises";
import { basename } from "node:path";

/** One figure of the gallery. */
export interface GalleryEntry {
  /** Path of the PNG (inside the gallery folder). */
  file: string;
  /** What the reader sees. */
  caption: string;
  /** Optional section heading shown before this entry. */
  section?: string;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );
}

/** Writes `dir/index.html` listing the entries in order. */
export async function writeGallery(
  dir: string,
  title: string,
  entries: GalleryEntry[],
): Promise<string> {
  const body = entries.map((e) =>
    `${e.section ? `<h2>${escapeHtml(e.section)}</h2>\n` : ""}<figure><img src="${
      escapeHtml(basename(e.file))
    }" alt="${escapeHtml(e.caption)}"><figcaption>${escapeHtml(e.caption)}</figcaption></figure>`
  ).join("\n");
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 2rem auto; max-width: 1400px; color: #222; }
figure { margin: 0 0 2rem; } img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
figcaption { margin-top: .4rem; color: #444; }
</style></head><body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
  const path = `${dir.replace(/\/$/, "")}/index.html`;
  await writeFile(path, html);
  return path;
}
