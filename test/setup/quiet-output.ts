/**
 * Keeps `npm test` to its results: drops, from what the Vitest process writes, three kinds of lines
 * that say nothing about our code, and nothing else. Installed by vitest.config.ts before the
 * pool starts.
 *
 * 1. workerd's log of outbound requests that fail at the network level, which the tests make on
 *    purpose (a receiver that drops the connection, an unreachable port, a name that does not
 *    resolve). workerd 1.20261102 logs every such failure as two or three lines
 *    ("exception = rust/worker/ffi.rs:…", "uncaught exception; source = Uncaught (in promise);
 *    stack = Error: Network connection lost." and its "jsg.Error" twin) from a task of its own,
 *    even when the caller handles the rejection: `await fetch(url).catch(() => null)` alone, in a
 *    test, prints the same block, and an `unhandledrejection` listener in the isolate never sees
 *    it, so no code of ours can handle it. A rejection that really goes unhandled in the isolate is
 *    still reported by Vitest ("Unhandled Rejection", and the run fails): only workerd's own lines
 *    are dropped. @cloudflare/vitest-plugin (1.5.0) drops other workerd lines the same way (its
 *    `ignoreMessages`) and writes the rest straight to process.stdout/stderr, one message per write,
 *    with no option to add to its list.
 * 2. workerd's warning about the one non-ASCII header a test sends on purpose
 *    (test/scripts/receiver.test.ts: an X-Webhook-Signature of "é" and 62 "a", 64 bytes on the wire).
 * 3. Vite's warning that standardwebhooks (the tests' Standard Webhooks verifier) ships a source
 *    map naming TypeScript sources it does not ship. Vitest replaces any `customLogger` of the
 *    config with its own, so the warning is dropped here too.
 */
import { stripVTControlCharacters } from "node:util";

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
const NON_ASCII_SIGNATURE = new RegExp(`^A header value for "X-Webhook-Signature" contains non-ASCII characters: "\u00e9${"a".repeat(62)}" `);
/** Matched without its colours (ANSI escapes). */
const SOURCEMAP_WARNING = /^Sourcemap for "[^"]*\/node_modules\/standardwebhooks\/dist\/index\.js" points to missing source files\n?$/;

export function quietOutput(): void {
  const networkErrorIds = new Set<string>();
  const held = new Map<string, (() => void)[]>();
  const fromNetwork = (reference: string) => [...networkErrorIds].some((id) => reference.startsWith(id));
  /** True when the chunk is dropped (or held back, to be written later by `write`). */
  const drops = (text: string, write: () => void): boolean => {
    if (SOURCEMAP_WARNING.test(stripVTControlCharacters(text)) || CONNECTION_LOST.test(text) || NON_ASCII_SIGNATURE.test(text)) return true;
    if (NETWORK_FAILURE.test(text)) {
      const id = text.match(ERROR_ID)?.[1];
      if (id) {
        networkErrorIds.add(id);
        for (const reference of held.keys()) if (reference.startsWith(id)) held.delete(reference);
      }
      return true;
    }
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
      if (typeof chunk === "string" && drops(chunk, () => write(chunk))) {
        const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
        callback?.();
        return true;
      }
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
}
