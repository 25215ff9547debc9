/**
 * The owner API's QR route: the web UI sends a camera frame or a picked
 * image as raw RGBA pixels, and the node finds the QR code in it (the
 * browser has no QR decoder, and the page loads nothing from outside).
 * It needs no account and works while the account is locked.
 * @module
 */
import { Hono } from "hono";
import { readLimited } from "../shared/codec/read_limited.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import type { QrDecoder } from "./qr_decoder.ts";

/** The smallest width or height of an image, pixels. */
export const QR_MIN_SIDE = 16;

/** The largest width or height of an image, pixels (so a body is at most 4 MiB). */
export const QR_MAX_SIDE = 1024;

/** How long a client may take to send the pixels, ms. */
const BODY_TIMEOUT_MS = 30_000;

/** What {@link qrRoutes} needs. */
export interface QrRoutesDeps {
  /** The decoder (one image at a time, each within its time limit). */
  decoder: QrDecoder;
  /** Where events go (never the decoded text). */
  log: Logger;
}

/**
 * The route `POST /api/qr/decode?width=W&height=H`: the body is the
 * image's RGBA pixels (`application/octet-stream`, exactly W·H·4 bytes),
 * the answer `{"text": …}`.
 * @param deps the decoder and a logger
 * @returns a sub-app to mount at "/"
 */
export function qrRoutes(deps: QrRoutesDeps): Hono {
  const { decoder, log } = deps;
  const app = new Hono();

  app.post("/api/qr/decode", async (c) => {
    const width = sideParam(c.req.query("width"), "width");
    const height = sideParam(c.req.query("height"), "height");
    const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/octet-stream") {
      throw new HearthError("bad_request", "The body must be application/octet-stream");
    }
    const expected = width * height * 4;
    let data: Uint8Array;
    try {
      data = await readLimited(c.req.raw, expected, { timeoutMs: BODY_TIMEOUT_MS });
    } catch (err) {
      if (err instanceof RangeError) {
        throw new HearthError("too_large", "The body is larger than width × height × 4 bytes", {
          maxBytes: expected,
        });
      }
      throw new HearthError("bad_request", "The body could not be read");
    }
    if (data.length !== expected) {
      throw new HearthError("bad_request", "The body must be width × height × 4 bytes");
    }
    const result = await decoder.decode({ width, height, data });
    if (!result.found) {
      log.info("qr.not-found", { timedOut: result.timedOut });
      throw new HearthError("not_found", "No QR code found");
    }
    log.info("qr.decoded");
    return c.json({ text: result.text });
  });

  return app;
}

/**
 * A width or height of the query: a whole number from {@link QR_MIN_SIDE}
 * to {@link QR_MAX_SIDE}, in plain digits.
 * @throws {HearthError} `bad_request` when absent or out of range
 */
function sideParam(value: string | undefined, name: string): number {
  if (value === undefined || !/^[0-9]{1,4}$/.test(value)) {
    throw new HearthError("bad_request", `${name} must be a whole number of pixels`);
  }
  const n = Number(value);
  if (n < QR_MIN_SIDE || n > QR_MAX_SIDE) {
    throw new HearthError("bad_request", `${name} must be ${QR_MIN_SIDE} to ${QR_MAX_SIDE}`);
  }
  return n;
}
