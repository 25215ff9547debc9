/**
 * Network groups for path diversity: the IPv4 /16 or IPv6 /32 a node's
 * address lies in, so that one operator's address block cannot hold two
 * hops of a path. A DNS name is a group of its own.
 * @module
 */
import { isLoopbackHost, parseHostPort } from "../../shared/host_port.ts";

/**
 * The network group of a `host:port` address: `v4:a.b` (IPv4 /16, also for
 * IPv4-mapped IPv6), `v6:xxxx:xxxx` (IPv6 /32), `dns:name` (a DNS name,
 * lowercased), or `raw:<addr>` when the address does not parse.
 * @param addr a node record's address
 * @example
 * networkGroupOf("203.0.113.9:7000"); // "v4:203.0"
 * networkGroupOf("[2001:db8::1]:7000"); // "v6:2001:db8"
 */
export function networkGroupOf(addr: string): string {
  let group = groupCache.get(addr);
  if (group === undefined) {
    if (groupCache.size >= GROUP_CACHE_SIZE) groupCache.clear();
    group = computeGroup(addr);
    groupCache.set(addr, group);
  }
  return group;
}

/** Addresses whose group is remembered; the directory is re-read on every path. */
const GROUP_CACHE_SIZE = 8192;
const groupCache = new Map<string, string>();

function computeGroup(addr: string): string {
  let host: string;
  try {
    host = parseHostPort(addr).host;
  } catch {
    return `raw:${addr}`;
  }
  const v4 = ipv4Octets(host);
  if (v4) return `v4:${v4[0]}.${v4[1]}`;
  if (host.includes(":")) {
    const words = ipv6Words(host);
    if (!words) return `raw:${addr}`;
    const mapped = words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff;
    if (mapped) return `v4:${words[6]! >> 8}.${words[6]! & 0xff}`;
    return `v6:${words[0]!.toString(16)}:${words[1]!.toString(16)}`;
  }
  return `dns:${host.toLowerCase()}`;
}

/**
 * Whether an address is on loopback (127.0.0.0/8, ::1 or localhost).
 * An address that does not parse is not.
 */
export function isLoopbackAddr(addr: string): boolean {
  try {
    return isLoopbackHost(parseHostPort(addr).host.toLowerCase());
  } catch {
    return false;
  }
}

function ipv4Octets(host: string): number[] | undefined {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return undefined;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** The 8 16-bit words of an IPv6 address, or undefined when malformed. */
function ipv6Words(host: string): number[] | undefined {
  let text = host.toLowerCase();
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = ipv4Octets(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === "" ? [] : s.split(":"));
  const left = parse(halves[0]!);
  const right = halves.length === 2 ? parse(halves[1]!) : [];
  const words = [...left, ...right];
  if (!words.every((w) => /^[0-9a-f]{1,4}$/.test(w))) return undefined;
  const total = words.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const zeros = new Array<number>(8 - total).fill(0);
  return [
    ...left.map((w) => parseInt(w, 16)),
    ...zeros,
    ...right.map((w) => parseInt(w, 16)),
    ...tail,
  ];
}
