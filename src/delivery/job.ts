/**
 * A queue message only points at a delivery row. The row, not the message, is the truth
 * about attempts: a message for a finished delivery, or one that arrives before the
 * delivery's next_attempt_at (a duplicate of a retried job), is acknowledged and ignored.
 */
export interface DeliveryJob {
  deliveryId: string;
}
