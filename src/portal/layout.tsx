import type { Child } from "hono/jsx";
import type { PortalSession } from "../services/portal-sessions";
import { CHART_ASSETS } from "./assets/chart-assets";

export const ASSETS = { css: "/portal/assets/portal.css", script: "/portal/assets/portal.js" };

interface LayoutProps {
  title: string;
  session?: PortalSession;
  /** The page draws a chart: load uPlot (before the portal script, which draws it). */
  chart?: boolean;
  children: Child;
}

/** Every portal page: a skip link, the navigation, one main landmark with the page's h1. */
export function Layout({ title, session, chart, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · Webhooks portal`}</title>
        {chart && <link rel="stylesheet" href={CHART_ASSETS.css.path} />}
        <link rel="stylesheet" href={ASSETS.css} />
        {chart && <script src={CHART_ASSETS.script.path} defer></script>}
        <script src={ASSETS.script} defer></script>
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <span class="brand">Webhooks portal</span>
          {session && (
            <>
              <nav aria-label="Portal">
                <ul>
                  <li>
                    <a href="/portal">Endpoints</a>
                  </li>
                  <li>
                    <a href="/portal/event-types">Event types</a>
                  </li>
                </ul>
              </nav>
              {session.readOnly && <span class="badge warn">Read-only</span>}
              <form method="post" action="/portal/sign-out">
                <button type="submit" class="secondary">
                  Sign out
                </button>
              </form>
            </>
          )}
        </header>
        <main id="main">
          <h1>{title}</h1>
          {children}
        </main>
      </body>
    </html>
  );
}

/** A plain page for refusals and errors: no navigation when there is no session. */
export function MessagePage({ title, detail, session }: { title: string; detail: string; session?: PortalSession }) {
  return (
    <Layout title={title} session={session}>
      <p>{detail}</p>
    </Layout>
  );
}
