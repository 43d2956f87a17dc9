/**
 * A note for the reader from inside the library (a loader's remark, a skipped
 * picture, a training line): in a notebook an awaited display message, so it
 * lands under the cell that caused it as plain text (stderr would show late,
 * possibly under the next cell, and red, reading like an error); elsewhere
 * stderr.
 *
 * @module
 */
import { sendBundle } from "./_jupyter_api.ts";

/** Shows `text` to the reader; resolves once it has left. */
export async function notice(text: string): Promise<void> {
  // A note must never fail the call that made it: stderr when the kernel refuses.
  const sent = await sendBundle({ "text/plain": text }).catch(() => false);
  if (!sent) console.error(text);
}
