import { LIMITS } from "../env";

/**
 * Which webhook URLs we will call (SSRF guard). Production: https only, and never a host
 * that is an IP literal, localhost, or a name in a private, loopback, link-local,
 * unique-local or metadata range. Development additionally allows http://localhost so
 * local receivers work.
 */
export type UrlVerdict = { ok: true; url: string } | { ok: false; reason: string };

const BLOCKED_NAMES = new Set(["localhost", "metadata.google.internal", "metadata", "instance-data"]);
const BLOCKED_SUFFIXES = [".localhost", ".local", ".internal", ".localdomain", ".home.arpa"];

function isIpv4Literal(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

function isIpv6Literal(host: string): boolean {
  return host.startsWith("[") && host.endsWith("]");
}

/** Names that embed a private address, e.g. 127.0.0.1.nip.io, 10-0-0-1.sslip.io. */
function embedsPrivateIpv4(host: string): boolean {
  const match = host.match(/(?:^|[.-])(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})(?:[.-]|$)/);
  if (!match) return false;
  const [a, b] = [Number(match[1]), Number(match[2])];
  return (
    a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)
  );
}

function isLocalhost(host: string): boolean {
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

export function checkWebhookUrl(raw: string, production: boolean): UrlVerdict {
  if (raw.length > LIMITS.maxUrlLength) return { ok: false, reason: `URL is longer than ${LIMITS.maxUrlLength} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "URL cannot be parsed" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, reason: "URL must use http or https" };
  if (url.username || url.password) return { ok: false, reason: "URL must not contain credentials (user:password@)" };
  if (!url.hostname) return { ok: false, reason: "URL has no host" };
  // Development relaxes the policy for the local machine only; every other host gets the production checks.
  if (!production && isLocalhost(url.hostname)) return { ok: true, url: raw };
  if (url.protocol !== "https:") {
    return { ok: false, reason: production ? "URL must use https" : "in development only https URLs and http://localhost are allowed" };
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (isIpv4Literal(host) || isIpv6Literal(host)) return { ok: false, reason: "URL host must be a domain name, not an IP address" };
  if (BLOCKED_NAMES.has(host) || BLOCKED_SUFFIXES.some((s) => host.endsWith(s)) || !host.includes(".")) {
    return { ok: false, reason: "URL host is a local or internal name" };
  }
  if (embedsPrivateIpv4(host)) return { ok: false, reason: "URL host resolves into a private address range" };
  return { ok: true, url: raw };
}
