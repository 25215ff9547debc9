/**
 * A minimal reader of a server-sent event stream (the owner API's
 * `GET /api/events`), for tests and the benchmark: frames with an
 * `event:` name and one JSON `data:` line; comments are counted.
 * @module
 */

/** One parsed event. */
export interface SseEvent {
  /** The `event:` name ("message" when absent). */
  event: string;
  /** The parsed `data:` JSON. */
  data: Record<string, unknown>;
}

/** Reads events from a response body. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #done = false;
  #pending: Promise<ReadableStreamReadResult<string>> | undefined;
  /** Comment lines seen (keep-alives). */
  comments = 0;

  /** Read the stream of `body`. */
  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Whether the stream ended. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * The next event, or undefined when the stream ended.
   * @param timeoutMs how long to wait at most
   * @throws {Error} on timeout, or when the stream errors
   */
  async next(timeoutMs: number): Promise<SseEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const frame = this.#takeFrame();
      if (frame) return frame;
      if (this.#done) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("No event within the wait");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), left);
      });
      this.#pending ??= this.#reader.read();
      const read = await Promise.race([this.#pending, timeout]).finally(() => clearTimeout(timer));
      if (read === "timeout") throw new Error("No event within the wait");
      this.#pending = undefined;
      if (read.done) this.#done = true;
      else this.#buffer += read.value;
    }
  }

  /**
   * Read until an event matches `pred`.
   * @param timeoutMs how long to wait at most in all
   * @throws {Error} on timeout, or when the stream ends first
   */
  async until(pred: (e: SseEvent) => boolean, timeoutMs: number): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const e = await this.next(Math.max(1, deadline - Date.now()));
      if (!e) throw new Error("Stream ended");
      if (pred(e)) return e;
    }
  }

  /** Stop reading (the server sees the client go). */
  async cancel(): Promise<void> {
    this.#done = true;
    await this.#reader.cancel().catch(() => {});
  }

  #takeFrame(): SseEvent | undefined {
    while (true) {
      const end = this.#buffer.indexOf("\n\n");
      if (end < 0) return undefined;
      const frame = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let event = "message";
      let data: string | undefined;
      for (const line of frame.split("\n")) {
        if (line.startsWith(":")) this.comments++;
        else if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data = line.slice(5).trim();
      }
      if (data !== undefined) return { event, data: JSON.parse(data) };
    }
  }
}
