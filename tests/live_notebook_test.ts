/**
 * The notebooks as a person sees them: opened in the real classic Jupyter
 * Notebook, run with "Run All" through headless Chromium, and checked cell by
 * cell (../shared/tools/live-notebook/run_live.py) against the same notebooks
 * executed headlessly: every cell shows exactly the outputs it has there (Deno
 * 2.9's kernel stamps late output with the next cell's header), no
 * output boxed into a scroll area, one progress bar per cell, no errors.
 * Skipped, saying so, when the tool, the classic Notebook or Chromium is
 * missing; CI installs the last two.
 */
import { assert } from "./assert.ts";
import { runNotebooks } from "./_run_notebooks.ts";

const root = new URL("../", import.meta.url).pathname;
const tool = new URL("../../shared/tools/live-notebook/run_live.py", import.meta.url).pathname;
const python = "/usr/bin/python3";

async function available(): Promise<string | undefined> {
  if (!(await Deno.stat(tool).then(() => true, () => false))) return `${tool} is absent`;
  if (!(await Deno.stat("/usr/bin/chromium").then(() => true, () => false))) {
    return "no /usr/bin/chromium (apt-get install chromium)";
  }
  const notebook = await new Deno.Command(python, { args: ["-c", "import notebook"] }).output()
    .then((o) => o.success, () => false);
  if (!notebook) return "no classic Jupyter Notebook (apt-get install jupyter-notebook)";
  return undefined;
}

const missing = await available();
if (missing) console.log(`SKIP: live notebook test: ${missing}`);
if (missing && Deno.env.get("CI") === "true" && !missing.endsWith("is absent")) {
  throw new Error(`CI must run the live notebook test, but: ${missing}`);
}

Deno.test({
  name:
    "every notebook in the live classic Notebook: each cell's outputs as headless, none boxed, one progress bar per cell, no errors",
  ignore: missing !== undefined,
  fn: async () => {
    const out = await Deno.makeTempDir();
    // The server writes checkpoints and the kernel may touch the lock file: put both back.
    const lock = await Deno.readTextFile(`${root}deno.lock`).catch(() => undefined);
    try {
      const notebooks = [...Deno.readDirSync(`${root}notebooks`)]
        .map((e) => e.name)
        .filter((n) => n.endsWith(".ipynb"))
        .sort();
      // The reference: the same notebooks executed headlessly by the runner that
      // collects late outputs; every live cell must show exactly its outputs.
      const reference = `${out}/reference`;
      const headless = await runNotebooks(
        notebooks.map((n) => `${root}notebooks/${n}`),
        reference,
        [],
        { CONVSCOPE_QUICK: "1" },
      );
      assert(headless.ok, headless.log.slice(-3000));
      // Deno 2.9's kernel now and then stamps a cell's last output with the next
      // cell's request (timing: Run All on a busy machine). A notebook whose cells
      // differ from the reference runs again, up to twice; one of our own outputs
      // sent late (a cell ending with a value, stray stdout) differs every time.
      let pending = notebooks;
      const lastProblems = new Map<string, string[]>();
      for (let attempt = 1; attempt <= 3 && pending.length > 0; attempt++) {
        const shots = `${out}/attempt-${attempt}`;
        const run = await new Deno.Command(python, {
          args: [tool, root, ...pending, "--out", shots, "--reference", reference],
          env: { CONVSCOPE_QUICK: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const log = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
        const report = JSON.parse(await Deno.readTextFile(`${shots}/report.json`)) as {
          notebooks: {
            notebook: string;
            problems: string[];
            cells: unknown[];
            reference_diffs?: { index: number; reference: string[]; live: string[] }[];
          }[];
        };
        assert(
          report.notebooks.length === pending.length,
          `not every notebook ran:\n${log.slice(-3000)}`,
        );
        const again: string[] = [];
        for (const nb of report.notebooks) {
          console.log(
            `  try ${attempt}, ${nb.notebook}: ${nb.cells.length} cells, problems: ${
              nb.problems.join("; ") || "none"
            }`,
          );
          for (const d of nb.reference_diffs ?? []) {
            console.log(`    cell ${d.index}: headless ${d.reference} live ${d.live}`);
          }
          // The tool's "previous cell's tail" is a guess from timing (an output within
          // 30 ms of the next cell's start) and flags quick cells' own outputs too:
          // shown, not failed; an output really under the wrong cell makes cells
          // differ from the reference. Everything else fails at once.
          const real = nb.problems.filter((p) => !/previous cell's tail|before it started/.test(p));
          const timing = real.filter((p) => /differ from the reference/.test(p));
          const other = real.filter((p) => !timing.includes(p));
          assert(other.length === 0, `${nb.notebook}: ${other.join("\n")}\n${log.slice(-4000)}`);
          if (timing.length > 0) again.push(nb.notebook);
          lastProblems.set(nb.notebook, timing);
        }
        pending = again;
      }
      assert(
        pending.length === 0,
        `outputs under the wrong cell in 3 runs: ${
          pending.map((n) => `${n}: ${lastProblems.get(n)!.join("; ")}`).join("\n")
        }`,
      );
    } finally {
      if (lock !== undefined) await Deno.writeTextFile(`${root}deno.lock`, lock);
      await Deno.remove(`${root}notebooks/.ipynb_checkpoints`, { recursive: true }).catch(() => {});
      await Deno.remove(out, { recursive: true });
    }
  },
});
