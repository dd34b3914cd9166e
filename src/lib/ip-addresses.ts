/**
 * IPv4 and IPv6 addresses: parsing and which ranges are public. The URL policy
 * (src/lib/url-policy.ts) refuses every address outside the public unicast space, whether
 * the URL names it as a literal or a wildcard-DNS name embeds it (127.0.0.1.nip.io).
 */

type Ipv4 = [number, number, number, number];

/** Special-purpose IPv4 ranges (RFC 6890 and the IANA registry): never a webhook receiver. */
const NON_PUBLIC_IPV4: [Ipv4, number, string][] = [
  [[0, 0, 0, 0], 8, "this network"],
  [[10, 0, 0, 0], 8, "private"],
  [[100, 64, 0, 0], 10, "carrier-grade NAT"],
  [[127, 0, 0, 0], 8, "loopback"],
  [[169, 254, 0, 0], 16, "link-local (cloud metadata)"],
  [[172, 16, 0, 0], 12, "private"],
  [[192, 0, 0, 0], 24, "IETF protocol assignments"],
  [[192, 0, 2, 0], 24, "documentation"],
  [[192, 88, 99, 0], 24, "6to4 relay"],
  [[192, 168, 0, 0], 16, "private"],
  [[198, 18, 0, 0], 15, "benchmarking"],
  [[198, 51, 100, 0], 24, "documentation"],
  [[203, 0, 113, 0], 24, "documentation"],
  [[224, 0, 0, 0], 4, "multicast"],
  [[240, 0, 0, 0], 4, "reserved, broadcast"],
];

const toUint32 = (a: Ipv4) => ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;

function inIpv4Range(address: Ipv4, [base, bits]: [Ipv4, number, string]): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (toUint32(address) & mask) >>> 0 === (toUint32(base) & mask) >>> 0;
}

export function isPublicIpv4(address: Ipv4): boolean {
  return !NON_PUBLIC_IPV4.some((range) => inIpv4Range(address, range));
}

/** Four decimal octets (0-255; leading zeros read as decimal), or null. */
export function ipv4FromOctets(parts: string[]): Ipv4 | null {
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? (octets as Ipv4) : null;
}

/** Eight hex digits, as nip.io and sslip.io read them (7f000001 is 127.0.0.1), or null. */
export function ipv4FromHex(label: string): Ipv4 | null {
  if (!/^[0-9a-f]{8}$/i.test(label)) return null;
  const n = Number.parseInt(label, 16);
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** An IPv6 address in text form (with "::" and a dotted IPv4 tail allowed) as 8 groups, or null. */
export function parseIpv6(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = ipv4FromOctets(piece.split("."));
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        out.push(Number.parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...Array<number>(missing).fill(0), ...tail] : null;
}

const embeddedIpv4 = (g: number[]): Ipv4 => [g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff];

/**
 * Public IPv6: global unicast (2000::/3) outside its special-purpose blocks; an address that
 * embeds an IPv4 address (mapped, NAT64, 6to4) is public only if that address is.
 */
export function isPublicIpv6(g: number[]): boolean {
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(5) && g[5] === 0xffff) return isPublicIpv4(embeddedIpv4(g)); // ::ffff:a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return isPublicIpv4(embeddedIpv4(g)); // 64:ff9b::/96
  if (g[0] === 0x2002) return isPublicIpv4([g[1] >> 8, g[1] & 0xff, g[2] >> 8, g[2] & 0xff]); // 6to4
  if ((g[0] & 0xe000) !== 0x2000) return false; // outside 2000::/3: ::, ::1, fc00::/7, fe80::/10, ff00::/8, ...
  if (g[0] === 0x2001 && g[1] < 0x200) return false; // 2001::/23 IETF protocol assignments (Teredo, benchmarking, ORCHID)
  if (g[0] === 0x2001 && g[1] === 0x0db8) return false; // documentation
  if (g[0] === 0x3fff && g[1] < 0x1000) return false; // documentation (3fff::/20)
  return true;
}
