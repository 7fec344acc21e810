// Outbound targets a tenant chooses (alert channels today, Git remotes later) must not reach the
// server's own side of the network: loopback, link-local (the cloud metadata service at
// 169.254.169.254), private, unique-local or unspecified addresses. Two checks:
//  - when a target is saved, checkTargetHost() refuses literal addresses and localhost names, and
//    resolves nothing (a server without DNS can still save https://hooks.example.com/…);
//  - before every connection, resolveTarget() resolves the name and checks every address, and
//    guardedFetch() connects to the address it checked, so a name that changes its answer between
//    the check and the connection (DNS rebinding) gains nothing. Redirects are never followed.
// CRONTOPUS_ALLOW_PRIVATE_TARGETS=true (installations on internal networks) turns both off.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

export type AddressClass = "public" | "loopback" | "private" | "link-local" | "unique-local" | "unspecified" | "multicast" | "reserved";

export interface TargetPolicy {
  /** CRONTOPUS_ALLOW_PRIVATE_TARGETS: allow every address. */
  allowPrivate: boolean;
}

/** A target refused by the guard; the message says which address and why. */
export class TargetRefused extends Error {
  override name = "TargetRefused";
}

const ALLOW_HINT = "set CRONTOPUS_ALLOW_PRIVATE_TARGETS=true to allow internal targets";

// ---------------------------------------------------------------------------------------------
// Parsing: every spelling getaddrinfo and the URL parser accept.

/**
 * An IPv4 address in any form inet_aton() takes (and so getaddrinfo and the WHATWG URL parser):
 * 1 to 4 parts, each decimal, octal (leading 0) or hex (0x): 2130706433, 0177.0.0.1, 0x7f.1.
 * Returns the address as a 32-bit number, or null if `s` is not one.
 */
export function parseIPv4(s: string): number | null {
  const parts = s.split(".");
  if (parts.length > 1 && parts.at(-1) === "") parts.pop();
  if (parts.length < 1 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]+$/.test(p)) n = parseInt(p, 8);
    else if (/^(0|[1-9][0-9]*)$/.test(p)) n = Number(p);
    else return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 256 ** (4 - nums.length)) return null;
  return nums.reduce((acc, n, i) => acc + n * 256 ** (3 - i), 0) + last;
}

/** An IPv6 address (with or without brackets or a zone) as 8 groups of 16 bits, or null. */
export function parseIPv6(s: string): number[] | null {
  let t = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
  t = t.replace(/%.*$/, "");
  if (isIP(t) !== 6) return null;
  // A trailing dotted quad is two groups.
  const quad = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (quad) {
    const v4 = parseIPv4(quad[2]!);
    if (v4 === null) return null;
    t = `${quad[1]}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head, tail] = t.includes("::") ? t.split("::") : [t, undefined];
  const a = head ? head.split(":") : [];
  const b = tail === undefined ? [] : tail ? tail.split(":") : [];
  const fill = tail === undefined ? 0 : 8 - a.length - b.length;
  const groups = [...a, ...Array<string>(fill).fill("0"), ...b].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

// ---------------------------------------------------------------------------------------------
// Classifying: a pure function of the address.

const V4_RANGES: [string, number, AddressClass][] = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "private"], // carrier-grade NAT
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"], // cloud metadata lives here
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "reserved"],
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "private"], // benchmarking, used inside networks
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"], // and 255.255.255.255
];
const V4_TABLE = V4_RANGES.map(([base, bits, cls]) => ({ base: parseIPv4(base)!, mask: (0xffffffff << (32 - bits)) >>> 0, cls }));

function classifyV4(n: number): AddressClass {
  for (const r of V4_TABLE) if (((n & r.mask) >>> 0) === r.base) return r.cls;
  return "public";
}

function classifyV6(g: number[]): AddressClass {
  const zeroUpTo = (k: number) => g.slice(0, k).every((x) => x === 0);
  const v4 = (hi: number, lo: number) => ((hi << 16) >>> 0) + lo;
  if (zeroUpTo(8)) return "unspecified";
  if (zeroUpTo(7) && g[7] === 1) return "loopback";
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d)
  // addresses reach the IPv4 address inside them.
  if (zeroUpTo(5) && g[5] === 0xffff) return classifyV4(v4(g[6]!, g[7]!));
  if (zeroUpTo(6)) return classifyV4(v4(g[6]!, g[7]!));
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return classifyV4(v4(g[6]!, g[7]!));
  // 6to4 (2002:a.b.c.d::/48) carries an IPv4 address too.
  if (g[0] === 0x2002) {
    const inner = classifyV4(v4(g[1]!, g[2]!));
    if (inner !== "public") return inner;
  }
  const top = g[0]!;
  if ((top & 0xffc0) === 0xfe80) return "link-local";
  if ((top & 0xffc0) === 0xfec0) return "private"; // site-local, deprecated but routed inside some networks
  if ((top & 0xfe00) === 0xfc00) return "unique-local";
  if ((top & 0xff00) === 0xff00) return "multicast";
  if (top === 0x2001 && g[1] === 0x0db8) return "reserved"; // documentation
  if (top === 0x0100 && zeroUpTo(4)) return "reserved"; // discard prefix 100::/64 (group 0 is 0x100)
  return "public";
}

/**
 * What kind of address `ip` is: IPv4 in any inet_aton spelling, IPv6 with or without brackets,
 * IPv4-mapped IPv6 included. Throws for something that is not an address.
 */
export function classifyAddress(ip: string): AddressClass {
  const v4 = parseIPv4(ip);
  if (v4 !== null) return classifyV4(v4);
  const v6 = parseIPv6(ip);
  if (v6 !== null) return classifyV6(v6);
  throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
}

/** Whether `host` (a URL's hostname) is an address literal rather than a name. */
export function isAddressLiteral(host: string): boolean {
  return parseIPv4(host) !== null || parseIPv6(host) !== null;
}

const LOCAL_NAME_RE = /(^|\.)localhost$|^ip6-(localhost|loopback)$/;

/** The reason `host` may not be a target, or null. Pure: resolves nothing. */
export function checkTargetHost(host: string, policy: TargetPolicy): string | null {
  if (policy.allowPrivate) return null;
  const h = host.toLowerCase().replace(/\.$/, "");
  if (h === "") return "has no host";
  if (LOCAL_NAME_RE.test(h)) return `${host} is this server itself; ${ALLOW_HINT}`;
  if (isAddressLiteral(h)) {
    const cls = classifyAddress(h);
    if (cls !== "public") return `${host} is ${describe(cls)}; ${ALLOW_HINT}`;
  }
  return null;
}

function describe(cls: AddressClass): string {
  return cls === "unspecified" ? "an unspecified address" : `a ${cls} address`;
}

export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Resolves `host` and checks every address it has; returns them (a literal resolves to itself).
 * Throws TargetRefused if any address may not be reached, or if the name does not resolve.
 * Call it before every connection: a Git fetch, an SMTP session, an HTTP request.
 */
export async function resolveTarget(host: string, policy: TargetPolicy, resolver: Resolver = systemResolver): Promise<string[]> {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const literal = checkTargetHost(bare, policy);
  if (literal) throw new TargetRefused(`refused: ${literal}`);
  if (isAddressLiteral(bare)) {
    const v4 = parseIPv4(bare);
    return [v4 === null ? bare : [v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join(".")];
  }
  let addresses: string[];
  try {
    addresses = await resolver(bare);
  } catch (e) {
    throw new TargetRefused(`cannot resolve ${host}: ${e instanceof Error ? ((e as { code?: string }).code ?? e.message) : String(e)}`);
  }
  if (addresses.length === 0) throw new TargetRefused(`cannot resolve ${host}: no address`);
  if (policy.allowPrivate) return addresses;
  for (const a of addresses) {
    const cls = classifyAddress(a);
    if (cls !== "public") throw new TargetRefused(`refused: ${host} resolves to ${a}, ${describe(cls)}; ${ALLOW_HINT}`);
  }
  return addresses;
}

/**
 * fetch() to a target through the guard: the host is resolved and checked for this request, and
 * the connection goes to the checked address (Host header and TLS server name stay the URL's).
 * Redirects are never followed: a 3xx comes back as it is.
 */
export async function guardedFetch(url: URL, init: RequestInit, policy: TargetPolicy, resolver?: Resolver): Promise<Response> {
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TargetRefused(`refused: ${url.protocol} is not http(s)`);
  const [address] = await resolveTarget(url.hostname, policy, resolver);
  const pinned = new URL(url);
  const headers = new Headers(init.headers);
  const tls: { serverName?: string } = {};
  if (!isAddressLiteral(url.hostname.replace(/^\[|\]$/g, ""))) {
    pinned.hostname = isIP(address!) === 6 ? `[${address}]` : address!;
    headers.set("host", url.host);
    if (url.protocol === "https:") tls.serverName = url.hostname;
  }
  return fetch(pinned, { ...init, headers, redirect: "manual", tls } as RequestInit);
}
