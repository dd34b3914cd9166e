const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const newId = () => crypto.randomUUID();

/** Ids in paths that are not UUIDs cannot exist: the caller answers 404 without a query. */
export const isUuid = (id: string) => UUID_PATTERN.test(id);
