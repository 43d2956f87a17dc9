/**
 * Executes notebooks headlessly through Deno's real kernel with the project's
 * runner (scripts/run_notebooks.py, Debian's python3): shared by the notebook,
 * browser and live front-end tests.
 *
 * @module
 */
const ROOT = new URL("../", import.meta.url).pathname;

/** Runs `scripts/run_notebooks.py --out outDir ...flags notebooks`; the runner's output as `log`. */
export async function runNotebooks(
  notebooks: string[],
  outDir: string,
  flags: string[] = [],
  env: Record<string, string> = {},
): Promise<{ ok: boolean; log: string }> {
  const result = await new Deno.Command("/usr/bin/python3", {
    args: [`${ROOT}scripts/run_notebooks.py`, "--out", outDir, ...flags, ...notebooks],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
  return { ok: result.success, log };
}
