/**
 * The cost of one HTTP exchange on loopback, the unit of work of every
 * onion hop and replication request: a `fetch` POST of an onion-sized body
 * to a `Deno.serve` server in the same process, which reads it and answers
 * 2 KiB. Client and server share the process, so its CPU time per exchange
 * is the cost of both ends.
 * @module
 */
import { cpuMs } from "./process_metrics.ts";
import { round } from "./stats.ts";

/** One measured body size and concurrency. */
export interface HttpExchangeRate {
  /** Request body bytes. */
  bodyBytes: number;
  /** Requests in flight. */
  concurrency: number;
  /** Exchanges per second. */
  perSec: number;
  /** CPU ms of the process (both ends) per exchange. */
  cpuMsPerExchange: number;
}

const ANSWER = new Uint8Array(2_048);

async function measureOne(
  url: string,
  options: { bodyBytes: number; concurrency: number; budgetMs: number },
): Promise<HttpExchangeRate> {
  const body = crypto.getRandomValues(new Uint8Array(options.bodyBytes));
  const post = async () => {
    const res = await fetch(url, { method: "POST", body });
    await res.arrayBuffer();
  };
  for (let i = 0; i < 50; i++) await post();
  const cpuStart = await cpuMs(Deno.pid);
  const start = performance.now();
  const end = start + options.budgetMs;
  let count = 0;
  await Promise.all(Array.from({ length: options.concurrency }, async () => {
    while (performance.now() < end) {
      await post();
      count++;
    }
  }));
  const elapsed = performance.now() - start;
  const cpuEnd = await cpuMs(Deno.pid);
  const cpu = cpuStart === undefined || cpuEnd === undefined ? NaN : cpuEnd - cpuStart;
  return {
    bodyBytes: options.bodyBytes,
    concurrency: options.concurrency,
    perSec: round(count / (elapsed / 1000)),
    cpuMsPerExchange: round(cpu / count),
  };
}

/**
 * Measure exchanges with 2 KiB and 16 KiB bodies, one and 16 in flight.
 * @param options.budgetMs time per combination, ms
 * @returns one rate per combination
 */
export async function measureHttpExchange(
  options: { budgetMs: number },
): Promise<HttpExchangeRate[]> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    return new Response(ANSWER, { headers: { "content-type": "application/octet-stream" } });
  });
  const url = `http://127.0.0.1:${server.addr.port}/v1/onion`;
  try {
    const rates: HttpExchangeRate[] = [];
    for (const bodyBytes of [2_048, 16_384]) {
      for (const concurrency of [1, 16]) {
        rates.push(await measureOne(url, { bodyBytes, concurrency, budgetMs: options.budgetMs }));
      }
    }
    return rates;
  } finally {
    await server.shutdown();
  }
}
