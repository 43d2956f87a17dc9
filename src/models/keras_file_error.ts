/**
 * The error every model and image loader throws for a problem in the file it
 * was given, naming the file; the underlying error, if any, is its `cause`.
 *
 * @module
 */

/** A problem convscope found in a model file (as opposed to one the OS or HDF5 reported). */
export class KerasFileError extends Error {
  /** Always `"KerasFileError"`. */
  override name = "KerasFileError";
}
