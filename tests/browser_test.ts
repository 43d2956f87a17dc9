/**
 * The exported HTML of a notebook, rendered by a real browser (Debian's
 * headless Chromium): the figures must be visible pixels, not just tags.
 * Skips with a message without Chromium or Jupyter, except under CI.
 */
import { decodeImage } from "../src/image/load.ts";
import { assert } from "./assert.ts";
import { clickThrough, withPage } from "./_explorer_browser.ts";
import { runNotebooks } from "./_run_notebooks.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CHROMIUM = "/usr/bin/chromium";

async function available(): Promise<string | undefined> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    return "no /usr/bin/chromium (apt-get install chromium)";
  }
  const probe = await new Deno.Command("/usr/bin/python3", {
    args: [
      "-c",
      "import nbclient, nbconvert, jupyter_client.kernelspec as k; k.get_kernel_spec('deno')",
    ],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => undefined);
  return probe?.success ? undefined : "no Jupyter stack or deno kernelspec";
}

const missing = await available();
if (missing && Deno.env.get("CI")) throw new Error(`CI must run the browser test, but: ${missing}`);
if (missing) console.warn(`SKIPPING browser test: ${missing}`);

async function screenshot(html: string, png: string): Promise<void> {
  const profile = await Deno.makeTempDir();
  const result = await new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      "--hide-scrollbars",
      `--screenshot=${png}`,
      "--window-size=1280,4000",
      `file://${html}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  await Deno.remove(profile, { recursive: true });
  assert(result.success, new TextDecoder().decode(result.stderr));
}

/** Share of pixels that are strongly coloured (figures), as opposed to text, code and background. */
async function colourfulShare(png: string): Promise<number> {
  const { data, width, height } = await decodeImage(await Deno.readFile(png));
  let colourful = 0;
  for (let i = 0; i < width * height; i++) {
    const r = data[i * 3], g = data[i * 3 + 1], b = data[i * 3 + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colourful++;
  }
  return colourful / (width * height);
}

Deno.test({
  name:
    "the exported HTML of notebook 01 shows its figures in headless Chromium, and its explorer clicks through",
  ignore: missing !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir();
    const run = await runNotebooks(
      [`${ROOT}notebooks/01-intermediate-activations.ipynb`],
      dir,
      ["--html"],
      { CONVSCOPE_QUICK: "1" },
    );
    assert(run.ok, run.log);
    const html = `${dir}/01-intermediate-activations.html`;
    await screenshot(html, `${dir}/page.png`);
    const withFigures = await colourfulShare(`${dir}/page.png`);
    // Control: the same page with its images removed.
    const stripped = (await Deno.readTextFile(html)).replace(/<img [^>]*>/g, "");
    await Deno.writeTextFile(`${dir}/stripped.html`, stripped);
    await screenshot(`${dir}/stripped.html`, `${dir}/stripped.png`);
    const without = await colourfulShare(`${dir}/stripped.png`);
    assert(
      withFigures > 0.05,
      `only ${(withFigures * 100).toFixed(2)} % of the page is figure pixels`,
    );
    assert(without < withFigures / 10, `control page: ${(without * 100).toFixed(2)} %`);
    console.log(
      `figure pixels: ${(withFigures * 100).toFixed(1)} % of the page (control without images: ${
        (without * 100).toFixed(2)
      } %)`,
    );
    // Notebook 01 ends with explore(): its script runs in the export too.
    await withPage(async (page) => {
      await page.goto(`file://${html}`);
      await clickThrough(page, `${ROOT}out/explorer/notebook01`);
    });
    await Deno.remove(dir, { recursive: true });
  },
});
