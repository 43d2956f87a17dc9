/**
 * `deno doc --lint mod.ts`, accepting one kind of finding: a public signature
 * that mentions a type of a dependency (tfjs's `Tensor`, Skia's context).
 * Those types are documented by their packages; re-exporting all of tfjs to
 * make them "public" would publish its whole API as ours. Every other finding
 * (missing JSDoc, missing return types, private types of our own) fails.
 *
 * @module
 */
const result = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--lint", "mod.ts"],
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).output();
const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
const blocks = text.split(/\n(?=error\[)/).filter((b) => b.startsWith("error["));

const ownSource = await Promise.all(
  [...Deno.readDirSync("src")].flatMap((entry) =>
    entry.isDirectory
      ? [...Deno.readDirSync(`src/${entry.name}`)].map((f) => `src/${entry.name}/${f.name}`)
      : [`src/${entry.name}`]
  ).filter((p) => p.endsWith(".ts")).map((p) => Deno.readTextFile(p)),
).then((texts) => texts.join("\n"));

function declaredHere(name: string): boolean {
  return new RegExp(`export (declare )?(type|interface|class|function|const|enum) ${name}\\b`)
    .test(ownSource);
}

const accepted = new Set<string>();
const failures: string[] = [];
for (const block of blocks) {
  // The re-exported `tf` namespace is tfjs's own API, documented by tfjs.
  if (/-->\s+\S*\/node_modules\//.test(block)) continue;
  const ref = block.match(
    /^error\[private-type-ref\]: public type '.*' references private type '(\w+)'/,
  );
  if (ref && !declaredHere(ref[1])) accepted.add(ref[1]);
  else failures.push(block.trim());
}
if (failures.length > 0) {
  console.error(failures.join("\n\n"));
  console.error(`\ndoc lint: ${failures.length} problem(s)`);
  Deno.exit(1);
}
if (!result.success && blocks.length === 0) {
  console.error(text);
  Deno.exit(1);
}
console.log(
  `doc lint: clean (signatures mention dependency types: ${[...accepted].sort().join(", ")})`,
);
