/**
 * Driving an explorer in headless Chromium (Debian's, through puppeteer-core):
 * shared by the explorer's own test and the exported-notebook test.
 *
 * @module
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { assert, assertEquals } from "./assert.ts";

export const CHROMIUM = "/usr/bin/chromium";

/** The few DOM shapes the page callbacks use (this file is type-checked without the DOM library). */
interface BrowserCanvas {
  width: number;
  height: number;
  getContext(kind: "2d"): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  };
}
export interface BrowserImage {
  complete: boolean;
  naturalWidth: number;
  getBoundingClientRect(): { width: number };
}

const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};

export async function withPage<T>(fn: (page: Page, browser: Browser) => Promise<T>): Promise<T> {
  const browser = await puppeteer.launch(LAUNCH);
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const result = await fn(page, browser);
    assertEquals(errors, [], "the page script threw");
    return result;
  } finally {
    await browser.close();
  }
}

/** Clicks through one explorer on a page: layer, hover, channel, enlarged hover, view, colormap. */
export async function clickThrough(page: Page, shots: string): Promise<void> {
  await Deno.mkdir(shots, { recursive: true });
  await page.waitForSelector(".cs-controls:not([hidden])", { timeout: 20_000 });
  // Open the second layer (closed at first): its grid becomes a live canvas.
  const summary = await page.$(".cs-layer[data-layer='1'] > summary");
  await summary!.click();
  const canvas = await page.waitForSelector(".cs-layer[data-layer='1'] canvas.cs-atlas", {
    timeout: 20_000,
  });
  await canvas!.scrollIntoView();
  const box = (await canvas!.boundingBox())!;
  // Channel 5 of a 16-per-row grid: sixth tile, first row, near its middle.
  const tile = box.width / 16;
  const at = { x: box.x + tile * 5.5, y: box.y + tile * 0.5 };
  await page.mouse.move(at.x, at.y);
  const readout = await page.$eval(
    ".cs-layer[data-layer='1'] .cs-readout",
    (e) => e.textContent ?? "",
  );
  assert(/^channel 5 · min .* value at \(\d+, \d+\) -?[\d.e+-]+$/.test(readout), readout);
  await page.screenshot({ path: `${shots}/1-hover.png` });
  await page.mouse.click(at.x, at.y);
  const big = await page.waitForSelector(".cs-layer[data-layer='1'] canvas.cs-channel");
  await big!.scrollIntoView();
  const bigBox = (await big!.boundingBox())!;
  assert(bigBox.width >= 200, `the enlarged channel is ${bigBox.width} px wide`);
  await page.mouse.move(bigBox.x + bigBox.width / 3, bigBox.y + bigBox.height / 2);
  const value = await page.$eval(
    ".cs-layer[data-layer='1'] .cs-channel-readout",
    (e) => e.textContent ?? "",
  );
  const number = Number(/value at \(\d+, \d+\) (\S+)$/.exec(value)?.[1]);
  assert(Number.isFinite(number), value);
  await page.screenshot({ path: `${shots}/2-channel.png` });
  const pixels = () =>
    page.$eval(".cs-layer[data-layer='1'] canvas.cs-atlas", (c) => {
      const canvas = c as unknown as BrowserCanvas;
      return Array.from(
        canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data.slice(
          0,
          4000,
        ),
      ).join();
    });
  const before = await pixels();
  await page.select(".cs-view", "standardize");
  const standardized = await pixels();
  assert(standardized !== before, "the standardised view repaints the grid");
  await page.select(".cs-cmap", "magma");
  assert((await pixels()) !== standardized, "the colormap repaints the grid");
  await page.screenshot({ path: `${shots}/3-standardized-magma.png` });
}
