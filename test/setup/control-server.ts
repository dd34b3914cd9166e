import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { ProvidedContext } from "vitest";
import type { TestProject } from "vitest/node";

/**
 * The global setups run in Node what workerd cannot (processes, files, Python): each serves it on
 * a free 127.0.0.1 port for the whole run, and the workerd tests find that port with
 * inject(key). Returns vitest's teardown: `beforeClose` (e.g. stopping child processes), then
 * the server closes.
 */
export async function serveToTests(project: TestProject, key: keyof ProvidedContext, listener: RequestListener, beforeClose?: () => void) {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  project.provide(key, typeof address === "object" && address ? address.port : 0);
  return () => {
    beforeClose?.();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

/** A request's whole body, as text. */
export function bodyText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** One route, POST `path`: the body in, `answer`'s JSON text out (500 with the error if it throws); 404 elsewhere. */
export const postRoute =
  (path: string, answer: (body: string) => Promise<string> | string): RequestListener =>
  async (req: IncomingMessage, res: ServerResponse) => {
    const body = await bodyText(req);
    if (req.method !== "POST" || req.url !== path) return void res.writeHead(404).end();
    try {
      res.writeHead(200, { "content-type": "application/json" }).end(await answer(body));
    } catch (error) {
      res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
    }
  };
