import type { Env } from "../env";
import type { DeliveryJob } from "./job";

/**
 * Two delivery lanes, each its own queue with its own consumer invocations, so a hanging
 * endpoint never holds up a healthy one. An endpoint whose last attempt ran longer than
 * SLOW_ATTEMPT_MS (or timed out) is "slow" until an attempt of it is quick again: its
 * deliveries and retries travel on the slow lane. Everything else travels on the fast lane.
 */
export type Lane = "fast" | "slow";

export const LANE_QUEUES: Record<Lane, string> = {
  fast: "hr-intel-webhook-deliveries",
  slow: "hr-intel-webhook-deliveries-slow",
};

export const laneOfQueue = (queueName: string): Lane => (queueName === LANE_QUEUES.slow ? "slow" : "fast");

export const laneQueue = (env: Env, lane: Lane): Queue<DeliveryJob> => (lane === "slow" ? env.SLOW_DELIVERY_QUEUE : env.DELIVERY_QUEUE);

/**
 * Attempts in flight to one endpoint, per isolate and per lane. On the fast lane a busy
 * endpoint may take 4 of an invocation's 6 connections; on the slow lane one at a time, so a
 * hanging endpoint holds at most one connection however many deliveries it has.
 */
export const ENDPOINT_CONCURRENCY: Record<Lane, number> = { fast: 4, slow: 1 };
