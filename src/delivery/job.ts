/** A queue message points at a delivery row; the row, not the message, is the truth. */
export interface DeliveryJob {
  deliveryId: string;
  /** The attempt this message is meant to make (1-based); stale messages are skipped. */
  attempt: number;
}
