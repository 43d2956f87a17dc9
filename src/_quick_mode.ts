/**
 * Quick mode, `CONVSCOPE_QUICK=1`: the smoke runs of the notebooks and the
 * demo (CI, the notebook tests) cap every gradient ascent at 3 steps and every
 * training or evaluation pass at 1 epoch of 2 batches, inside the library, so
 * that the notebooks' cells say what a reader runs (`steps: 40`, `epochs: 3`).
 *
 * @module
 */

/** Steps an ascent takes at most in quick mode. */
export const QUICK_ASCENT_STEPS = 3;
/** Batches a pass over a dataset reads at most in quick mode. */
export const QUICK_BATCHES = 2;

/** Whether `CONVSCOPE_QUICK=1` is set (false where the environment may not be read). */
export function quickMode(): boolean {
  try {
    const permission = Deno.permissions.querySync({ name: "env", variable: "CONVSCOPE_QUICK" });
    return permission.state === "granted" && Deno.env.get("CONVSCOPE_QUICK") === "1";
  } catch {
    return false;
  }
}
