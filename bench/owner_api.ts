/**
 * The owner API of a devnet node as tests and the benchmark use it: JSON
 * calls with the owner token, account creation, and an event log that
 * reads `GET /api/events` in the background and stamps each event with
 * the time it arrived.
 * @module
 */
import { type NodeProcess, ownerApi } from "../tools/devnet_lib.ts";

export { ownerApi };
import { type SseEvent, SseReader } from "./sse_client.ts";

/**
 * Create an account on `node`.
 * @returns its Account ID
 * @throws {Error} when the node refuses
 */
export async function createAccount(
  node: NodeProcess,
  options: { passphrase: string; displayName: string },
): Promise<string> {
  const res = await ownerApi(node, "POST", "/api/account", options);
  if (res.status !== 201) throw new Error(`Account creation failed with ${res.status}`);
  return res.json.accountId as string;
}

/** An event with the time it arrived (performance.now()). */
export interface StampedEvent extends SseEvent {
  /** When it was read, ms (performance.now()). */
  at: number;
}

/** A node's event stream, read in the background until closed. */
export class EventLog {
  /** Every event read so far, in order. */
  readonly events: StampedEvent[] = [];
  readonly #abort: AbortController;
  readonly #reader: SseReader;
  readonly #loop: Promise<void>;
  #ended = false;
  #wake: (() => void) | undefined;

  private constructor(abort: AbortController, reader: SseReader) {
    this.#abort = abort;
    this.#reader = reader;
    this.#loop = this.#run();
  }

  /**
   * Open `GET /api/events` on `node`.
   * @throws {Error} when the node does not answer 200
   */
  static async open(node: NodeProcess): Promise<EventLog> {
    const abort = new AbortController();
    const res = await fetch(`http://${node.webAddr}/api/events`, {
      headers: { authorization: `Bearer ${node.ownerToken}` },
      signal: abort.signal,
    });
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      throw new Error(`GET /api/events answered ${res.status}`);
    }
    return new EventLog(abort, new SseReader(res.body));
  }

  /**
   * The first event (already read or still to come) matching `pred`.
   * @throws {Error} when none comes within `timeoutMs` or the stream ends
   */
  async waitFor(pred: (e: StampedEvent) => boolean, timeoutMs: number): Promise<StampedEvent> {
    const deadline = performance.now() + timeoutMs;
    let seen = 0;
    while (true) {
      for (; seen < this.events.length; seen++) {
        if (pred(this.events[seen]!)) return this.events[seen]!;
      }
      if (this.#ended) throw new Error("The event stream ended");
      const left = deadline - performance.now();
      if (left <= 0) throw new Error("No matching event within the wait");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
  }

  /** Stop reading and close the connection. */
  async close(): Promise<void> {
    this.#ended = true;
    this.#abort.abort();
    await this.#reader.cancel();
    await this.#loop;
  }

  async #run(): Promise<void> {
    try {
      while (!this.#ended) {
        let e: SseEvent | undefined;
        try {
          e = await this.#reader.next(60_000);
        } catch (err) {
          if (err instanceof Error && err.message === "No event within the wait") continue;
          throw err;
        }
        if (!e) break;
        this.events.push({ ...e, at: performance.now() });
        this.#wake?.();
      }
    } catch {
      // The connection closed or was aborted.
    } finally {
      this.#ended = true;
      this.#wake?.();
    }
  }
}
