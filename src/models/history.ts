/**
 * A training run's per-epoch metrics: written by `fit`, stored with the
 * shipped model, drawn by `plotHistory`.
 *
 * @module
 */

/** Per-epoch metrics, like Keras' `history.history`. */
export interface History {
  /** Training loss per epoch. */
  loss: number[];
  /** Training accuracy per epoch. */
  acc: number[];
  /** Validation loss per epoch. */
  val_loss: number[];
  /** Validation accuracy per epoch. */
  val_acc: number[];
  /** Wall seconds per epoch. */
  seconds: number[];
}
