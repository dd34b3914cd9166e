/**
 * A Map for per-isolate caches that holds at most `limit` entries: setting a new key when full
 * drops the oldest entry first (insertion order), so an isolate's memory stays bounded however
 * many webhooks, keys or URLs it sees.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.limit) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}
