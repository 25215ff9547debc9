/**
 * Send a request through an onion path (docs/PROTOCOL.md §7) and read the
 * answer. The last node of the path runs the RPC; the others only relay.
 * @module
 */
import { buf } from "../../shared/crypto/bytes.ts";
import { CryptoError } from "../../shared/crypto/errors.ts";
import { ONION_RESPONSE_SIZES } from "../../shared/codec/limits.ts";
import { decodeFrame, encodeFrame, type Frame } from "../../shared/codec/frame.ts";
import { errorFromJson, isErrorHeader } from "../../shared/codec/error_frame.ts";
import { HearthError } from "../../shared/errors.ts";
import { buildOnionPacket, type OpenedResponse } from "../../shared/onion/build.ts";
import { readLimited } from "../../shared/codec/read_limited.ts";

/** A node of a path: the fields of its node record the client needs. */
export interface OnionPathNode {
  /** Ed25519 node ID, hex. */
  readonly id: string;
  /** X25519 key, hex. */
  readonly x25519: string;
  /** Relay address, "host:port". */
  readonly addr: string;
}

/** Options of an onion request. */
export interface OnionRequestOptions {
  /** Give up after this long, ms (default 45,000: above a hop's 40 s forward timeout). */
  timeoutMs?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Time source of the layers' timestamps (default Date.now). */
  clock?: () => number;
  /** Abort the request (e.g. a long-poll when the client locks): it fails with `timeout`. */
  signal?: AbortSignal;
}

const MAX_RESPONSE_BYTES = Math.max(...ONION_RESPONSE_SIZES);

/**
 * Send a request frame through a path and return the destination's
 * response frame.
 * @param path the hops, first hop first; the last one runs the request (1 to 5 nodes)
 * @param request the request frame (§5)
 * @returns the response frame of the last node
 * @throws {HearthError} the error a hop or the destination answered, with
 *   `hop` (its index in the path) in the details; `timeout` or `hop_failed`
 *   (hop 0) when the first hop cannot be reached; `decrypt_failed` when the
 *   answer does not open
 * @throws {RangeError} when the path is empty or too long, or the request too large
 */
export async function sendOnionRequest(
  path: readonly OnionPathNode[],
  request: Uint8Array,
  options: OnionRequestOptions = {},
): Promise<Uint8Array> {
  const onion = await buildOnionPacket(path, request, { clock: options.clock });
  const doFetch = options.fetch ?? fetch;
  const timer = AbortSignal.timeout(options.timeoutMs ?? 45_000);
  const timeout = options.signal ? AbortSignal.any([timer, options.signal]) : timer;
  let status: number;
  let bytes: Uint8Array;
  try {
    const res = await doFetch(`http://${path[0]!.addr}/v1/onion`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: buf(onion.packet),
      signal: timeout,
    });
    status = res.status;
    bytes = await readLimited(res, MAX_RESPONSE_BYTES);
  } catch {
    if (timeout.aborted) {
      throw new HearthError("timeout", "Path did not answer in time", { hop: 0 });
    }
    throw new HearthError("hop_failed", "First hop could not be reached", { hop: 0 });
  }
  if (status !== 200) throw errorFromJson(parseJson(bytes), { hop: 0 });

  let opened: OpenedResponse;
  try {
    opened = await onion.openResponse(bytes);
  } catch (err) {
    if (!(err instanceof CryptoError)) throw err;
    throw new HearthError("decrypt_failed", "Onion answer does not decrypt");
  }
  const hop = opened.hopIndex;
  let header: Record<string, unknown>;
  try {
    header = decodeFrame(opened.body).header;
  } catch {
    throw new HearthError("hop_failed", "Hop answered a malformed frame", { hop });
  }
  if (isErrorHeader(header)) throw errorFromJson(header, { hop });
  if (hop !== path.length - 1) {
    throw new HearthError("hop_failed", "Relay answered instead of the destination", { hop });
  }
  return opened.body;
}

/**
 * Run an RPC on the last node of a path: encode the request frame, send it
 * through the path, decode the answer frame.
 * @param path the hops, first hop first; the last one runs the RPC
 * @param header the RPC's JSON header, e.g. `{method: "retrieve", …}`
 * @param options.blob the frame's raw bytes (e.g. the data to store)
 * @returns the answer's header and blob
 * @throws {HearthError} as {@link sendOnionRequest}
 */
export async function rpcViaOnion(
  path: readonly OnionPathNode[],
  header: Record<string, unknown>,
  options: OnionRequestOptions & { blob?: Uint8Array } = {},
): Promise<Frame> {
  const response = await sendOnionRequest(path, encodeFrame(header, options.blob), options);
  return decodeFrame(response);
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}
