import type { D1Migration } from "cloudflare:test";
import type { Env as WorkerEnv } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
    }
    interface GlobalProps {
      mainModule: typeof import("../src/index");
    }
  }
}

declare module "vitest" {
  export interface ProvidedContext {
    receiverPort: number;
    guideVerifierPort: number;
    /** The control server of test/setup/receiver-script.ts, which runs scripts/receiver.mjs as child processes. */
    receiverScriptControlPort: number;
    /** The control server of test/setup/openapi-lint.ts, which runs `redocly lint` on a document. */
    openApiLintPort: number;
    /** The control server of test/setup/dev-script.ts, which runs scripts/dev.mjs as child processes. */
    devScriptControlPort: number;
  }
}
