/**
 * `POST /v1/onion` (docs/PROTOCOL.md §7): peel this node's layer, then
 * forward the packet or run the request, and answer 200 with a sealed
 * response of a fixed size.
 * @module
 */
import { Hono } from "hono";
import { buf } from "../../shared/crypto/bytes.ts";
import { ONION_PACKET_SIZES, ONION_RESPONSE_SIZES } from "../../shared/codec/limits.ts";
import { encodeErrorFrame } from "../../shared/codec/error_frame.ts";
import { HearthError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { LayerKeys } from "../../shared/onion/layer_keys.ts";
import { readLimited } from "../../shared/codec/read_limited.ts";
import type { NodeIdentity } from "../directory/record_types.ts";
import { readBody } from "../rpc/body.ts";
import {
  isPacketSize,
  isResponseSize,
  type PeeledLayer,
  peelLayer,
  sealResponse,
  wrapForwardedResponse,
} from "./peel.ts";
import { ReplayCache } from "./replay_cache.ts";

const MAX_PACKET_BYTES = Math.max(...ONION_PACKET_SIZES);
const MAX_RESPONSE_BYTES = Math.max(...ONION_RESPONSE_SIZES);

/** What the onion route needs from the node. */
export interface OnionRoutesDeps {
  /** This node's keys. */
  identity: NodeIdentity;
  /** The address of a live directory node, by hex node ID. */
  resolveNode(id: string): { addr: string } | undefined;
  /** Run a final layer's request frame; returns the response frame. */
  handleFinal(request: Uint8Array): Promise<Uint8Array>;
  /** Logger: event names only. */
  log: Logger;
  /** Time source, ms (default Date.now). */
  clock?: () => number;
  /** How long to wait for the next hop, ms (default 40,000). */
  forwardTimeoutMs?: number;
  /** The replay cache (default: a new one on the same clock). */
  replay?: ReplayCache;
  /** Aborted when the node stops: forwards in flight end at once with `unavailable`. */
  signal?: AbortSignal;
  /** Told the bytes of each forward that got an answer (packet out plus response back). */
  onForwarded?: (bytes: number) => void;
}

/**
 * The onion sub-app. Errors before a layer's tag is recorded (bad size,
 * does not decrypt, bad timestamp, replay, cache full) are thrown as plain
 * HTTP errors: there is no key this hop may seal with.
 * @param deps the node's identity, directory lookup and RPC handler
 * @returns a Hono app serving `POST /v1/onion`
 */
export function onionRoutes(deps: OnionRoutesDeps): Hono {
  const clock = deps.clock ?? Date.now;
  const replay = deps.replay ?? new ReplayCache({ clock });
  const timeoutMs = deps.forwardTimeoutMs ?? 40_000;
  const log = deps.log;

  async function answer(layer: PeeledLayer): Promise<Uint8Array> {
    switch (layer.kind) {
      case "error":
        if (!layer.keys) throw layer.error;
        return await sealResponse(layer.keys, encodeErrorFrame(layer.error));
      case "forward":
        return await forward(layer);
      case "final":
        return await runFinal(layer.request, layer.keys);
    }
  }

  async function forward(layer: PeeledLayer & { kind: "forward" }): Promise<Uint8Array> {
    const node = deps.resolveNode(layer.next);
    if (!node) {
      return await sealResponse(
        layer.keys,
        encodeErrorFrame(new HearthError("unknown_hop", "Next hop is not a known live node")),
      );
    }
    try {
      const response = await postPacket(node.addr, layer.packet, {
        timeoutMs,
        signal: deps.signal,
      });
      deps.onForwarded?.(layer.packet.length + response.length);
      return await wrapForwardedResponse(layer.keys, response);
    } catch (err) {
      if (!(err instanceof HearthError)) throw err;
      log.debug("onion.forward_failed", { timeout: err.code === "timeout" });
      return await sealResponse(layer.keys, encodeErrorFrame(err));
    }
  }

  async function runFinal(request: Uint8Array, keys: LayerKeys): Promise<Uint8Array> {
    let frame: Uint8Array;
    try {
      frame = await deps.handleFinal(request);
    } catch (err) {
      if (!(err instanceof HearthError)) log.error("onion.final_failed");
      const error = err instanceof HearthError
        ? err
        : new HearthError("internal", "Internal error");
      frame = encodeErrorFrame(error);
    }
    try {
      return await sealResponse(keys, frame);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      const error = new HearthError("too_large", "Response is too large for an onion answer");
      return await sealResponse(keys, encodeErrorFrame(error));
    }
  }

  const app = new Hono();
  app.post("/v1/onion", async (c) => {
    const packet = await readBody(c.req.raw, MAX_PACKET_BYTES);
    if (!isPacketSize(packet.length)) {
      throw new HearthError("bad_size", "Onion packet is not one of the fixed sizes");
    }
    const layer = await peelLayer(packet, { dh: deps.identity.dh, replay, now: clock() });
    const body = await answer(layer);
    return c.body(buf(body), 200, { "content-type": "application/octet-stream" });
  });
  return app;
}

/**
 * Post a packet to the next hop and read its answer, which must be 200 and
 * one of the response sizes.
 * @throws {HearthError} `timeout`, `hop_failed`, or `unavailable` when `signal` aborts
 */
async function postPacket(
  addr: string,
  packet: Uint8Array,
  options: { timeoutMs: number; signal: AbortSignal | undefined },
): Promise<Uint8Array> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  try {
    const res = await fetch(`http://${addr}/v1/onion`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: buf(packet),
      signal,
    });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw new HearthError("hop_failed", "Next hop refused the packet");
    }
    const bytes = await readLimited(res, MAX_RESPONSE_BYTES);
    if (!isResponseSize(bytes.length)) {
      throw new HearthError("hop_failed", "Next hop answered with a bad size");
    }
    return bytes;
  } catch (err) {
    if (err instanceof HearthError) throw err;
    if (options.signal?.aborted) throw new HearthError("unavailable", "Node is shutting down");
    if (timeout.aborted) throw new HearthError("timeout", "Next hop did not answer in time");
    throw new HearthError("hop_failed", "Next hop could not be reached");
  }
}
