import { ipv4FromHex, ipv4FromOctets, isPublicIpv4, isPublicIpv6, parseIpv6 } from "./ip-addresses";

/**
 * Which webhook URLs we will call (SSRF guard), checked on create and update and again
 * before every delivery. Production: https only, a port isAllowedPort accepts, and a public
 * domain name: never an IP literal, a local or cluster-internal name, a well-known name of
 * the local machine, or a name embedding a non-public address (127.0.0.1.nip.io,
 * 10-0-0-1.sslip.io, 7f000001.nip.io, fe80--1.sslip.io). Development additionally allows
 * http(s) to localhost, 127.0.0.1 and [::1] on any port, so local receivers work.
 *
 * A name filter cannot see where DNS will point a name; README "Webhook URL policy" says
 * what the platform adds.
 */
export type UrlVerdict = { ok: true; url: string } | { ok: false; reason: string };

/** Single names that never are a receiver (metadata services reachable by short name on some clouds). */
const BLOCKED_NAMES = new Set(["localhost", "metadata", "instance-data"]);

/** Local, private-use and cluster-internal suffixes (mDNS, home routers, Kubernetes, Consul, reverse DNS). */
const INTERNAL_SUFFIXES = [
  ".localhost",
  ".local", // mDNS, and Kubernetes' .cluster.local
  ".localdomain",
  ".internal", // metadata.google.internal, *.ec2.internal
  ".home.arpa",
  ".in-addr.arpa",
  ".ip6.arpa",
  ".svc", // kubernetes.default.svc
  ".lan",
  ".intranet",
  ".corp",
  ".home",
  ".private",
  ".consul",
];

/** Public names (and all their subdomains) whose DNS answers 127.0.0.1, for local development. */
export const LOOPBACK_NAMES = ["localtest.me", "lvh.me", "vcap.me", "localho.st", "lacolhost.com", "fuf.me", "local.gd", "traefik.me", "localhost.direct"];

/**
 * Ports a webhook URL may name: 80, 443, and 1024 and up except REFUSED_PORTS, the
 * well-known ports of datastores and admin APIs that must never receive a POST from us.
 */
export const REFUSED_PORTS: ReadonlyMap<number, string> = new Map([
  [1080, "SOCKS proxy"],
  [1433, "SQL Server"],
  [1521, "Oracle"],
  [2049, "NFS"],
  [2181, "ZooKeeper"],
  [2375, "Docker API"],
  [2376, "Docker API (TLS)"],
  [2379, "etcd"],
  [2380, "etcd peers"],
  [3306, "MySQL"],
  [3389, "RDP"],
  [4369, "Erlang port mapper"],
  [5432, "PostgreSQL"],
  [5601, "Kibana"],
  [5672, "AMQP"],
  [5900, "VNC"],
  [5984, "CouchDB"],
  [6379, "Redis"],
  [6443, "Kubernetes API"],
  [7687, "Neo4j"],
  [8086, "InfluxDB"],
  [8200, "Vault"],
  [8500, "Consul"],
  [8983, "Solr"],
  [9042, "Cassandra"],
  [9092, "Kafka"],
  [9200, "Elasticsearch"],
  [9300, "Elasticsearch transport"],
  [10250, "kubelet"],
  [11211, "memcached"],
  [15672, "RabbitMQ management"],
  [27017, "MongoDB"],
  [27018, "MongoDB shard"],
  [27019, "MongoDB config server"],
  [28015, "RethinkDB"],
]);

export function isAllowedPort(port: number): boolean {
  return port === 80 || port === 443 || (port >= 1024 && port <= 65535 && !REFUSED_PORTS.has(port));
}

const isLocalhost = (host: string) => host === "localhost" || host === "127.0.0.1" || host === "[::1]";
const isIpLiteral = (host: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || (host.startsWith("[") && host.endsWith("]"));
const underAny = (host: string, names: readonly string[]) => names.some((n) => host === n || host.endsWith(`.${n}`));

/**
 * Every address a wildcard-DNS service could read out of the name, anywhere in it: four
 * decimal octets in a row separated by dots or dashes (1.1.1.1.127.0.0.1.nip.io is checked
 * for 1.1.1.1, 1.1.1.127, ... and 127.0.0.1), a label of eight hex digits (7f000001.nip.io),
 * and an IPv6 address with dashes for colons inside a label (fe80--1.sslip.io).
 */
function embedsNonPublicAddress(host: string): boolean {
  const tokens = host.split(/[.-]/);
  for (let i = 0; i + 4 <= tokens.length; i++) {
    const v4 = ipv4FromOctets(tokens.slice(i, i + 4));
    if (v4 && !isPublicIpv4(v4)) return true;
  }
  if (tokens.some((t) => ipv4FromHex(t) && !isPublicIpv4(ipv4FromHex(t)!))) return true;
  return host.split(".").some(embedsNonPublicIpv6);
}

function embedsNonPublicIpv6(label: string): boolean {
  if (!label.includes("-")) return false;
  const parts = label.split("-");
  for (let start = 0; start < parts.length; start++) {
    for (let end = start + 2; end <= parts.length; end++) {
      const groups = parseIpv6(parts.slice(start, end).join(":"));
      if (groups && !isPublicIpv6(groups)) return true;
    }
  }
  return false;
}

/** The checks a host name gets in production (and in development for every host but the local machine). */
function checkHostName(hostname: string): string | null {
  if (isIpLiteral(hostname)) return "URL host must be a domain name, not an IP address";
  const host = hostname.toLowerCase().replace(/\.+$/, ""); // "localhost.." is localhost
  if (host.split(".").some((label) => label === "")) return "URL host is not a valid domain name";
  if (BLOCKED_NAMES.has(host) || !host.includes(".") || INTERNAL_SUFFIXES.some((s) => host.endsWith(s))) {
    return "URL host is a local or internal name";
  }
  if (underAny(host, LOOPBACK_NAMES)) return "URL host is a well-known name of the local machine";
  if (embedsNonPublicAddress(host)) return "URL host embeds a private or reserved address";
  return null;
}

/** Where a URL is checked: production's policy or development's, and the longest URL accepted. */
export interface UrlPolicy {
  production: boolean;
  maxLength: number;
}

export function checkWebhookUrl(raw: string, { production, maxLength }: UrlPolicy): UrlVerdict {
  if (raw.length > maxLength) return { ok: false, reason: `URL is longer than ${maxLength} characters` };
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
  if (url.port && !isAllowedPort(Number(url.port))) {
    return { ok: false, reason: `URL port ${url.port} is not allowed (80, 443, or 1024 and up except datastore and admin ports)` };
  }
  const refused = checkHostName(url.hostname);
  return refused ? { ok: false, reason: refused } : { ok: true, url: raw };
}
