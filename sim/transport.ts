/**
 * The simulated network: `fetch("http://addr/path")` from one node reaches
 * the real Hono app of the node at `addr` after a simulated one-way
 * latency, and the answer comes back after another. A request or an answer
 * is lost with a configured probability, and a node that is down never
 * answers: either way the caller's own timeout (on the simulated clock)
 * ends the wait. Request and answer bytes are counted per node and route.
 * @module
 */
import type { SimClock } from "./clock.ts";
import type { SimRandom } from "./random.ts";

/** Bytes and requests of one route at one node. */
export interface RouteTraffic {
  /** Requests this node sent on the route. */
  sent: number;
  /** Requests this node answered on the route. */
  served: number;
  /** Bytes out: requests sent and answers given. */
  bytesOut: number;
  /** Bytes in: answers received and requests served. */
  bytesIn: number;
}

/** A node as the network sees it. */
export interface SimEndpoint {
  /** Its address, `host:port`. */
  readonly addr: string;
  /** Its relay app (a Hono app). */
  readonly app: { fetch(request: Request): Response | Promise<Response> };
  /** Whether it answers. */
  up: boolean;
  /** Traffic by route (the path without its query). */
  readonly traffic: Map<string, RouteTraffic>;
}

/** Options of {@link SimTransport}. */
export interface SimTransportOptions {
  /** Smallest one-way latency, ms; also the runtime's window. */
  minLatencyMs: number;
  /** Mean one-way latency, ms (the excess over the minimum is exponential). */
  meanLatencyMs: number;
  /** Largest one-way latency, ms. */
  maxLatencyMs: number;
  /** Probability that a request, or its answer, is lost. */
  loss: number;
}

/** Default network: 10–500 ms one way, 50 ms mean, 1% loss each way. */
export const DEFAULT_TRANSPORT: SimTransportOptions = {
  minLatencyMs: 10,
  meanLatencyMs: 50,
  maxLatencyMs: 500,
  loss: 0.01,
};

/** Counts of the whole network. */
export interface NetworkStats {
  requests: number;
  lost: number;
  toDown: number;
  failed: number;
}

/** The in-memory network between simulated nodes. */
export class SimTransport {
  readonly options: SimTransportOptions;
  readonly stats: NetworkStats = { requests: 0, lost: 0, toDown: 0, failed: 0 };
  #clock: SimClock;
  #random: SimRandom;
  #endpoints = new Map<string, SimEndpoint>();

  /**
   * Create a network.
   * @param clock the simulated clock
   * @param random the seeded source of latencies and losses
   * @param options latency and loss
   */
  constructor(clock: SimClock, random: SimRandom, options: SimTransportOptions) {
    if (options.minLatencyMs <= 0) throw new RangeError("Latency must be positive");
    this.#clock = clock;
    this.#random = random;
    this.options = options;
  }

  /**
   * Attach a node at `addr`, up.
   * @param addr its address, `host:port`
   * @param app its relay app
   */
  attach(addr: string, app: SimEndpoint["app"]): SimEndpoint {
    if (this.#endpoints.has(addr)) throw new RangeError("Address is taken");
    const endpoint: SimEndpoint = { addr, app, up: true, traffic: new Map() };
    this.#endpoints.set(addr, endpoint);
    return endpoint;
  }

  /**
   * The `fetch` of one node: what it sends is counted as its traffic.
   * @param from the sending node
   */
  fetchFor(from: SimEndpoint): typeof fetch {
    return (input, init) =>
      this.#send(from, String(input instanceof Request ? input.url : input), init);
  }

  #send(from: SimEndpoint, url: string, init: RequestInit | undefined): Promise<Response> {
    const signal = init?.signal ?? undefined;
    const { host, pathname, search } = new URL(url);
    const method = init?.method ?? "GET";
    const headers = new Headers(init?.headers);
    const body = init?.body instanceof Uint8Array || init?.body instanceof ArrayBuffer
      ? new Uint8Array(init.body)
      : undefined;
    const route = pathname;
    const requestBytes = requestSize(method, host, pathname + search, headers, body);
    this.stats.requests++;
    count(from, route, "sent", requestBytes, 0);
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new DOMException("The request was aborted", "AbortError"));
        return;
      }
      let settled = false;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        reject(new DOMException("The request was aborted", "AbortError"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const finish = (answer: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        answer();
      };
      const target = this.#endpoints.get(host);
      if (!target || !target.up) {
        this.stats.toDown++;
        return;
      }
      if (this.#lost()) return;
      this.#clock.schedule(this.#latency(), () => {
        if (!target.up) {
          this.stats.toDown++;
          return;
        }
        count(target, route, "served", 0, requestBytes);
        // Bodies are streams over memory: Deno's own byte bodies may wait for
        // the event loop, and real work must settle in microtasks. The
        // lengths are set as an HTTP/1.1 peer would.
        const served = new Headers(headers);
        if (body) served.set("content-length", String(body.length));
        const request = new Request(`http://${host}${pathname}${search}`, {
          method,
          headers: served,
          body: body ? memoryStream(body.slice()) : undefined,
          duplex: "half",
        } as RequestInit);
        Promise.resolve(target.app.fetch(request)).then(async (res) => {
          const bytes = new Uint8Array(await res.arrayBuffer());
          const responseBytes = responseSize(res, bytes.length);
          count(target, route, "none", responseBytes, 0);
          if (this.#lost() || !target.up) return;
          this.#clock.schedule(this.#latency(), () => {
            count(from, route, "none", 0, responseBytes);
            const answerHeaders = new Headers(res.headers);
            answerHeaders.set("content-length", String(bytes.length));
            finish(() =>
              resolve(
                new Response(memoryStream(bytes), { status: res.status, headers: answerHeaders }),
              )
            );
          });
        }).catch(() => {
          this.stats.failed++;
          this.#clock.schedule(this.#latency(), () => {
            finish(() => reject(new TypeError("Connection reset")));
          });
        });
      });
    });
  }

  #lost(): boolean {
    if (this.options.loss > 0 && this.#random.next() < this.options.loss) {
      this.stats.lost++;
      return true;
    }
    return false;
  }

  #latency(): number {
    const { minLatencyMs, meanLatencyMs, maxLatencyMs } = this.options;
    const excess = -Math.log(1 - this.#random.next()) * (meanLatencyMs - minLatencyMs);
    return Math.min(maxLatencyMs, minLatencyMs + excess);
  }
}

function count(
  endpoint: SimEndpoint,
  route: string,
  kind: "sent" | "served" | "none",
  bytesOut: number,
  bytesIn: number,
): void {
  let t = endpoint.traffic.get(route);
  if (!t) {
    t = { sent: 0, served: 0, bytesOut: 0, bytesIn: 0 };
    endpoint.traffic.set(route, t);
  }
  if (kind === "sent") t.sent++;
  else if (kind === "served") t.served++;
  t.bytesOut += bytesOut;
  t.bytesIn += bytesIn;
}

/** Bytes of an HTTP/1.1 request as written: request line, headers, body. */
function requestSize(
  method: string,
  host: string,
  target: string,
  headers: Headers,
  body: Uint8Array | undefined,
): number {
  let n = `${method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`.length + 2;
  for (const [name, value] of headers) n += name.length + value.length + 4;
  if (body) n += `content-length: ${body.length}\r\n`.length + body.length;
  return n;
}

/** Bytes of an HTTP/1.1 answer as written: status line, headers, body. */
function responseSize(res: Response, bodyLength: number): number {
  let n = `HTTP/1.1 ${res.status} OK\r\n`.length + 2;
  for (const [name, value] of res.headers) n += name.length + value.length + 4;
  return n + `content-length: ${bodyLength}\r\n`.length + bodyLength;
}

/** A body stream over bytes in memory: reading it needs no I/O, only microtasks. */
function memoryStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (bytes.length > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}
