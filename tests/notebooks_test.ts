/**
 * Notebooks run through Deno's real Jupyter kernel (Debian's nbclient and
 * `deno jupyter --install`; `.ci/run` installs both). Without them these
 * tests skip with a message, except under CI where that is a failure.
 */
import { assert, assertEquals } from "./assert.ts";
import { runNotebooks } from "./_run_notebooks.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const PYTHON = "/usr/bin/python3";

async function jupyterAvailable(): Promise<string | undefined> {
  try {
    const probe = await new Deno.Command(PYTHON, {
      args: [
        "-c",
        "import nbclient, nbformat, nbconvert, jupyter_client.kernelspec as k; k.get_kernel_spec('deno')",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    return probe.success
      ? undefined
      : new TextDecoder().decode(probe.stderr).trim().split("\n").at(-1);
  } catch (error) {
    return (error as Error).message;
  }
}

const missing = await jupyterAvailable();
if (missing && Deno.env.get("CI")) {
  throw new Error(`CI must run the notebook tests, but: ${missing}`);
}
if (missing) {
  console.warn(`SKIPPING notebook tests: Jupyter stack or deno kernelspec missing (${missing})`);
}

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  text?: string;
}
interface Cell {
  cell_type: string;
  metadata: { tags?: string[]; convscope?: { figures?: number } };
  outputs?: Output[];
  source: string[] | string;
}

async function readCells(path: string): Promise<Cell[]> {
  return JSON.parse(await Deno.readTextFile(path)).cells;
}

function imageCount(cell: Cell): number {
  return (cell.outputs ?? []).filter((o) => o.data && "image/png" in o.data).length;
}

const NOTEBOOKS = [
  "00-training-a-convnet",
  "01-intermediate-activations",
  "02-filter-patterns",
  "03-class-activation-heatmaps",
  "04-maximizing-class-outputs",
];
// Notebook 00 trains on the book's pictures, which a user's clone does not have.
const SHARED_DATA = `${ROOT}../shared/data/cats_and_dogs_small`;
const hasSharedData = await Deno.stat(SHARED_DATA).then(() => true, () => false);
if (!hasSharedData) console.warn(`SKIPPING notebook 00: ${SHARED_DATA} is absent`);

for (const name of NOTEBOOKS) {
  Deno.test({
    name:
      `notebook ${name} executes in Deno's kernel (quick settings); every figure cell has its image/png`,
    ignore: missing !== undefined || (name.startsWith("00") && !hasSharedData),
    async fn() {
      const out = await Deno.makeTempDir();
      const nb = `${ROOT}notebooks/${name}.ipynb`;
      const { ok, log } = await runNotebooks([nb], out, ["--html"], { CONVSCOPE_QUICK: "1" });
      assert(ok, log);
      const cells = await readCells(`${out}/${name}.ipynb`);
      const figureCells = cells.filter((c) => c.metadata.tags?.includes("figure"));
      assert(figureCells.length >= 1, "the notebook marks its figure cells");
      let figures = 0;
      for (const cell of figureCells) {
        assertEquals(
          imageCount(cell),
          cell.metadata.convscope?.figures,
          [cell.source].flat().join(""),
        );
        figures += imageCount(cell);
      }
      const PNG_TAG = /<img [^>]*src="data:image\/png;base64,/g;
      let pngTags = 0;
      for (const cell of cells) {
        assert(!(cell.outputs ?? []).some((o) => o.output_type === "error"), "no cell failed");
        // A cell's own value arrives as a late execute_result, which Deno 2.9's
        // kernel can stamp with the next cell: every output is an awaited display.
        assert(
          !(cell.outputs ?? []).some((o) => o.output_type === "execute_result"),
          `a cell ends with a value: ${[cell.source].flat().join("")}`,
        );
        for (const o of cell.outputs ?? []) {
          const html = o.data?.["text/html"];
          // An HTML output (the explorer) is exported as itself, with its own pictures.
          if (html) {
            pngTags += [...[html as string | string[]].flat().join("").matchAll(PNG_TAG)].length;
          } else if (o.data && "image/png" in o.data) pngTags++;
        }
      }
      // Every PNG made it into the HTML export.
      const html = await Deno.readTextFile(`${out}/${name}.html`);
      assertEquals(html.match(PNG_TAG)?.length, pngTags);
      assert(pngTags >= figures);
      await Deno.remove(out, { recursive: true });
    },
  });
}

Deno.test({
  name: "the runner loses no outputs on a notebook with many output-heavy cells",
  ignore: missing !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir();
    const cells = 30, perCell = 12;
    const code = (i: number) =>
      [
        `for (let k = 0; k < ${perCell}; k++) {`,
        `  console.log("cell ${i} line " + k);`,
        `  await Deno.jupyter.display({ "text/plain": "cell ${i} display " + k, "image/png": PNG }, { raw: true });`,
        `}`,
      ].join("\n");
    // A real 1×1 PNG, so every display is a binary image output like a figure's.
    const setup =
      `const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";`;
    const notebook = {
      cells: [setup, ...Array.from({ length: cells }, (_, i) => code(i))].map((source, i) => ({
        cell_type: "code",
        execution_count: null,
        id: `c${i}`,
        metadata: {},
        outputs: [],
        source,
      })),
      metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    const path = `${dir}/stress.ipynb`;
    await Deno.writeTextFile(path, JSON.stringify(notebook));
    const { ok, log } = await runNotebooks([path], `${dir}/out`);
    assert(ok, log);
    const done = await readCells(`${dir}/out/stress.ipynb`);
    for (let i = 1; i <= cells; i++) {
      const outputs = done[i].outputs ?? [];
      const text = outputs.filter((o) => o.output_type === "stream").map((o) => o.text).join("");
      assertEquals(
        outputs.filter((o) => o.output_type === "display_data").length,
        perCell,
        `cell ${i} displays`,
      );
      assertEquals(text.split("\n").filter(Boolean).length, perCell, `cell ${i} lines`);
    }
    // For the record: how many outputs plain nbclient loses on the same notebook.
    const plain = await runNotebooks([path], `${dir}/plain`, ["--plain"]);
    if (plain.ok) {
      const lost = (await readCells(`${dir}/plain/stress.ipynb`)).slice(1).reduce((n, c) => {
        const outs = c.outputs ?? [];
        const lines = outs.filter((o) =>
          o.output_type === "stream"
        ).map((o) => o.text).join("").split("\n").filter(Boolean).length;
        return n + 2 * perCell - lines -
          outs.filter((o) => o.output_type === "display_data").length;
      }, 0);
      console.log(
        `plain nbclient lost ${lost} of ${cells * perCell * 2} outputs; this runner lost 0`,
      );
    }
    await Deno.remove(dir, { recursive: true });
  },
});
