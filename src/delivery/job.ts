/** Which delivery row a job points at (the row's primary key). */
export interface DeliveryRef {
  webhookId: string;
  deliveryId: string;
  /**
   * The delivery's tenant, on jobs of first sends: such a delivery may have no row yet (it is
   * written with its first result, src/db/unwritten-deliveries.ts), and is then read from its
   * event, (tenantId, deliveryId), whose id it shares.
   */
  tenantId?: string;
  /**
   * The row's attempt count when the job was sent. A job whose count no longer matches
   * is stale (another job made that attempt and sent its own retry) and does nothing.
   * Absent on jobs that predate it: they match any count.
   */
  attempt?: number;
  /** A rate-limit slot (epoch ms) already claimed for this delivery: it is not claimed again. */
  slot?: number;
}

/**
 * A queue message carries up to MAX_DELIVERIES_PER_JOB deliveries (one event's fan-out
 * shares messages), so queue operations per delivery fall with fan-out. The rows, not the
 * message, are the truth about attempts: finished deliveries in a job are skipped.
 */
export interface DeliveryJob {
  deliveries: DeliveryRef[];
}

/** 20 refs keep a job far below the 64 KB that one queue operation is billed for, and a batch of 50 jobs within 1,000 subrequests. */
export const MAX_DELIVERIES_PER_JOB = 20;
