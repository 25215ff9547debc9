/**
 * Decoding a QR code from RGBA pixels, bounded in time: each image is
 * decoded in a fresh worker (qr_decode_worker.ts) that is ended after
 * {@link QR_DECODE_LIMIT_MS}, so no image can keep a core busy or hold the
 * node's event loop. The decoder (`@paulmillr/qr/decode.js`) is
 * synchronous, and some images (a page of small finder-like squares) make
 * it run for minutes. One image is decoded at a time per node.
 * @module
 */
import { HearthError } from "../shared/errors.ts";

/** How long one image may take to decode, ms (a noise image of 1024×1024 takes ~0.3 s). */
export const QR_DECODE_LIMIT_MS = 3_000;

/** An RGBA image: 4 bytes per pixel, rows top to bottom. */
export interface QrPixels {
  /** Pixels per row. */
  width: number;
  /** Rows. */
  height: number;
  /** `width × height × 4` bytes. */
  data: Uint8Array;
}

/** What a decode found: the code's text, or nothing (and whether time ran out). */
export type QrDecodeResult = { found: true; text: string } | { found: false; timedOut: boolean };

/** Options of {@link QrDecoder}. */
export interface QrDecoderOptions {
  /** The time limit of one image, ms (default {@link QR_DECODE_LIMIT_MS}). */
  limitMs?: number;
  /** The worker's module (default: qr_decode_worker.ts beside this file). */
  workerUrl?: string;
}

/** Where the worker's module is. */
const WORKER_URL = new URL("./qr_decode_worker.ts", import.meta.url).href;

/** Decodes QR codes in a worker, one image at a time, each within a time limit. */
export class QrDecoder {
  readonly #limitMs: number;
  readonly #workerUrl: string;
  #busy = false;

  /**
   * Make a decoder; no worker runs until an image comes.
   * @param options the time limit and the worker's module
   */
  constructor(options: QrDecoderOptions = {}) {
    this.#limitMs = options.limitMs ?? QR_DECODE_LIMIT_MS;
    this.#workerUrl = options.workerUrl ?? WORKER_URL;
  }

  /**
   * Find a QR code in an image.
   * @param image the pixels; their buffer is handed to the worker (do not use it after)
   * @returns the text, or not found (also when time ran out)
   * @throws {HearthError} `rate_limited` while another image is being decoded;
   *   `unavailable` when the worker cannot run
   */
  async decode(image: QrPixels): Promise<QrDecodeResult> {
    if (image.data.length !== image.width * image.height * 4) {
      throw new RangeError("Image data must be width × height × 4 bytes");
    }
    if (this.#busy) {
      throw new HearthError("rate_limited", "Another QR code is being decoded", {
        retryAfterMs: 1_000,
      });
    }
    this.#busy = true;
    try {
      return await this.#run(image);
    } finally {
      this.#busy = false;
    }
  }

  #run(image: QrPixels): Promise<QrDecodeResult> {
    const { promise, resolve, reject } = Promise.withResolvers<QrDecodeResult>();
    let worker: Worker;
    try {
      worker = new Worker(this.#workerUrl, { type: "module" });
    } catch {
      // e.g. a compiled binary built without the worker's module
      return Promise.reject(new HearthError("unavailable", "QR decoding is unavailable"));
    }
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      worker.terminate();
      settle();
    };
    const timer = setTimeout(
      () => finish(() => resolve({ found: false, timedOut: true })),
      this.#limitMs,
    );
    worker.onmessage = (event: MessageEvent<{ text?: unknown }>) => {
      const text = event.data?.text;
      finish(() =>
        resolve(
          typeof text === "string" ? { found: true, text } : { found: false, timedOut: false },
        )
      );
    };
    const fail = (event: Event) => {
      event.preventDefault();
      finish(() => reject(new HearthError("unavailable", "QR decoding is unavailable")));
    };
    worker.onerror = fail;
    worker.onmessageerror = fail;
    const data = image.data;
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength &&
      data.buffer instanceof ArrayBuffer;
    const owned = whole ? data : data.slice();
    worker.postMessage({ width: image.width, height: image.height, data: owned }, [
      owned.buffer as ArrayBuffer,
    ]);
    return promise;
  }
}
