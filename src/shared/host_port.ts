/**
 * `host:port` addresses as the CLI and node records write them: IPv4, a
 * DNS name, or a bracketed IPv6 address, and a port.
 * @module
 */

/** A parsed address. `host` keeps IPv6 brackets off. */
export interface HostPort {
  host: string;
  port: number;
}

const NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;

/**
 * Parse `host:port`.
 * @param options.allowPortZero accept port 0 (bind to an ephemeral port)
 * @throws {TypeError} with a one-line reason when malformed
 */
export function parseHostPort(text: string, options: { allowPortZero?: boolean } = {}): HostPort {
  if (typeof text !== "string" || text.length > 255) throw new TypeError("address is too long");
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0 || text[end + 1] !== ":") throw new TypeError("expected [ipv6]:port");
    host = text.slice(1, end);
    portText = text.slice(end + 2);
    if (!IPV6.test(host) || !host.includes(":")) throw new TypeError("bad IPv6 address");
  } else {
    const i = text.lastIndexOf(":");
    if (i <= 0) throw new TypeError("expected host:port");
    host = text.slice(0, i);
    portText = text.slice(i + 1);
    if (!IPV4.test(host) && !(NAME.test(host) && !/^[\d.]+$/.test(host))) {
      throw new TypeError("bad host name");
    }
  }
  if (!/^\d{1,5}$/.test(portText)) throw new TypeError("bad port");
  const port = Number(portText);
  const min = options.allowPortZero ? 0 : 1;
  if (port < min || port > 65535) throw new TypeError("port out of range");
  return { host, port };
}

/** Format an address as `host:port`, bracketing IPv6. */
export function formatHostPort(addr: HostPort): string {
  return addr.host.includes(":") ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** Whether a host is a loopback address or name. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether a host is the unspecified address (listen on all interfaces). */
export function isUnspecifiedHost(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}
