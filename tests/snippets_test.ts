/**
 * Every ```ts block in the README, in docs/ and in the notebooks' text cells
 * is type-checked and run as a reader would paste it: from the project root
 * (the notebooks' from notebooks/, where their relative paths point), with
 * "convscope" from the import map. Quick mode keeps long ascents short.
 */
import { assert } from "./assert.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function markdownFiles(): Promise<{ path: string; text: string; cwd: string }[]> {
  const files = [{ path: `${ROOT}README.md`, cwd: ROOT }];
  for await (const entry of Deno.readDir(`${ROOT}docs`)) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      files.push({ path: `${ROOT}docs/${entry.name}`, cwd: ROOT });
    }
  }
  for await (const entry of Deno.readDir(`${ROOT}notebooks`)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) {
      files.push({ path: `${ROOT}notebooks/${entry.name}`, cwd: `${ROOT}notebooks/` });
    }
  }
  return Promise.all(files.map(async (f) => {
    const raw = await Deno.readTextFile(f.path);
    // A notebook's text is its markdown cells.
    const text = f.path.endsWith(".ipynb")
      ? JSON.parse(raw).cells
        .filter((c: { cell_type: string }) => c.cell_type === "markdown")
        .map((c: { source: string[] | string }) => [c.source].flat().join(""))
        .join("\n\n")
      : raw;
    return { ...f, text };
  }));
}

const snippets: { name: string; code: string; cwd: string }[] = [];
for (const file of await markdownFiles()) {
  const blocks = [...file.text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  blocks.forEach((code, i) =>
    snippets.push({ name: `${file.path.slice(ROOT.length)} #${i + 1}`, code, cwd: file.cwd })
  );
}

Deno.test("the documentation has snippets to run", () => {
  assert(snippets.length >= 1, "no ```ts block found");
});

for (const snippet of snippets) {
  Deno.test(`snippet ${snippet.name} type-checks and runs`, async () => {
    const dir = `${snippet.cwd}.snippets`;
    await Deno.mkdir(dir, { recursive: true });
    const file = `${dir}/${snippet.name.replace(/[^\w]+/g, "_")}.ts`;
    await Deno.writeTextFile(file, snippet.code);
    try {
      const result = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--check", file],
        cwd: snippet.cwd,
        env: { CONVSCOPE_QUICK: "1", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const log = new TextDecoder().decode(result.stdout) +
        new TextDecoder().decode(result.stderr);
      assert(result.success, `${snippet.name} failed:\n${snippet.code}\n---\n${log}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
