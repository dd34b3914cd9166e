/**
 * Drops workerd's log of outbound requests that fail at the network level, which the tests make on
 * purpose (a receiver that drops the connection, an unreachable port, a name that does not resolve).
 *
 * Why a filter and not a fix in our code: workerd 1.20261102 logs every such failure as two or three
 * lines ("exception = rust/worker/ffi.rs:…", "uncaught exception; source = Uncaught (in promise);
 * stack = Error: Network connection lost." and its "jsg.Error" twin) from a task of its own, even
 * when the caller handles the rejection: `await fetch(url).catch(() => null)` alone, in a test,
 * prints the same block, and an `unhandledrejection` listener in the isolate never sees it. A
 * rejection that really goes unhandled in the isolate is still reported by Vitest ("Unhandled
 * Rejection", and the run fails): this filter only touches workerd's own lines.
 *
 * @cloudflare/vitest-plugin (1.5.0) drops other workerd lines the same way (its `ignoreMessages`)
 * and writes the rest straight to process.stdout/stderr, one message per write, with no option to
 * add to its list; so the filter wraps those writes, in the Vitest process, before the pool starts.
 */
const NETWORK_FAILURE = /^(exception|e) = rust\/worker\/ffi\.rs:\d+: (disconnected|failed): /;
const CONNECTION_LOST =
  /^uncaught exception; (source = Uncaught \(in promise\); stack = Error|exception = \S+: disconnected: jsg\.Error): Network connection lost\.(\n|$)/;
/**
 * A failed name lookup is reported as an "internal error" whose reference starts with the wdErrId
 * of its network line. The two come on different pipes (stderr, stdout), in either order: such a
 * line is held back briefly, dropped if its network line turns up, written otherwise.
 */
const ERROR_ID = /; wdErrId = (\w+)/;
const INTERNAL_ERROR =
  /^uncaught exception; (source = Uncaught \(in promise\); stack = Error|exception = \S+: failed: jsg\.Error): internal error; reference = (\w+)(\n|$)/;
const HOLD_MS = 1000;

export function quietNetworkFailures(): void {
  const networkErrorIds = new Set<string>();
  const held = new Map<string, (() => void)[]>();
  const fromNetwork = (reference: string) => [...networkErrorIds].some((id) => reference.startsWith(id));
  /** True when the chunk is dropped (or held back to be decided). */
  const filter = (text: string, write: () => void): boolean => {
    if (NETWORK_FAILURE.test(text)) {
      const id = text.match(ERROR_ID)?.[1];
      if (id) {
        networkErrorIds.add(id);
        for (const reference of held.keys()) if (reference.startsWith(id)) held.delete(reference);
      }
      return true;
    }
    if (CONNECTION_LOST.test(text)) return true;
    const reference = text.match(INTERNAL_ERROR)?.[2];
    if (reference === undefined) return false;
    if (fromNetwork(reference)) return true;
    held.set(reference, [...(held.get(reference) ?? []), write]);
    setTimeout(() => {
      for (const release of held.get(reference) ?? []) release();
      held.delete(reference);
    }, HOLD_MS).unref();
    return true;
  };
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === "string" && filter(chunk, () => write(chunk))) {
        const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
        callback?.();
        return true;
      }
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
}
