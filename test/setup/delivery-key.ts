/**
 * Which delivery a received request is: its webhook (X-Webhook-ID) and its webhook-id header, which
 * is unique per webhook only (a first send's id is its event's id, the same at every endpoint).
 * Plain code, for the Node receiver and the workerd tests alike.
 */
export const deliveryKey = (headers: Record<string, unknown>) => `${headers["x-webhook-id"]} ${headers["webhook-id"]}`;
