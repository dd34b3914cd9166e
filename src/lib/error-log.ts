/**
 * An error as a log line may show it. A failed query's message carries its bound parameters
 * (drizzle's "Failed query: <sql>\nparams: <values>"): API key hashes, sealed signing
 * secrets, event data. They are dropped, keeping the SQL and the driver's own error. Anything
 * shaped like one of our credentials (hrk_ API keys, wsk_ signing secrets) is masked too, in
 * case some message quotes one.
 */
export interface LoggedError {
  error: string;
  cause?: string;
  stack?: string;
}

const CREDENTIAL = /\b(hrk|wsk_[a-z]+)_[A-Za-z0-9_-]+/g;

const mask = (text: string) => text.replace(CREDENTIAL, "$1_[redacted]");

/** The error's message without bound parameters. */
function safeMessage(error: Error): string {
  const query = (error as { query?: unknown }).query;
  if (typeof query === "string" && "params" in error) return `Failed query: ${query}`;
  return error.message;
}

export function loggableError(error: unknown): LoggedError {
  if (!(error instanceof Error)) return { error: mask(String(error)) };
  const message = safeMessage(error);
  const logged: LoggedError = { error: mask(`${error.name}: ${message}`) };
  if (error.cause !== undefined) logged.cause = loggableError(error.cause).error;
  // The stack starts with "<name>: <message>": the message is replaced, the frames kept.
  if (error.stack) logged.stack = mask(error.stack.replace(error.message, message));
  return logged;
}
