/**
 * The cost of one hop, for `deno task bench`: peeling a forward layer of a
 * 16 KiB packet, against one X25519 and one AES-GCM over the same size
 * (the floor of any layered design). No network.
 * @module
 */
import { randomBytes, toHex } from "../../shared/crypto/bytes.ts";
import { generateDhKeyPair, x25519 } from "../../shared/crypto/dh.ts";
import { aesGcmSeal } from "../../shared/crypto/aead.ts";
import { buildOnionPacket } from "../../shared/onion/build.ts";
import { peelLayer } from "./peel.ts";
import { ReplayCache } from "./replay_cache.ts";

const PACKET_BYTES = 16_384;

/**
 * Time both operations.
 * @param iterations how many of each to run (after a short warm-up)
 * @returns mean ms per peel and per X25519 + AES-GCM
 * @throws {Error} when the peel does not yield a forward layer
 */
export async function measureHopCost(
  iterations: number,
): Promise<{ peelMs: number; x25519AeadMs: number }> {
  const node = await generateDhKeyPair();
  const others = [await generateDhKeyPair(), await generateDhKeyPair()];
  const hops = [node, ...others].map((k) => ({
    id: toHex(randomBytes(32)),
    x25519: toHex(k.publicKey),
  }));
  const { packet } = await buildOnionPacket(hops, randomBytes(8_000));
  if (packet.length !== PACKET_BYTES) throw new Error("Unexpected packet size");
  const eph = packet.subarray(0, 32);
  const data = randomBytes(PACKET_BYTES);
  const nonce = new Uint8Array(12);
  const now = Date.now();

  async function peelOnce(): Promise<void> {
    // A fresh cache each time: the same packet is peeled again and again.
    const layer = await peelLayer(packet, { dh: node, replay: new ReplayCache(), now });
    if (layer.kind !== "forward") throw new Error("Peel did not yield a forward layer");
  }
  async function baselineOnce(): Promise<void> {
    const secret = await x25519(node, eph);
    await aesGcmSeal(secret, nonce, data);
  }
  const warmup = Math.min(50, iterations);
  for (let i = 0; i < warmup; i++) await peelOnce(), await baselineOnce();
  // Interleaved in short blocks (A B B A), so load that comes and goes on a
  // shared machine falls on both sides alike.
  const totals = { peel: 0, peels: 0, baseline: 0, baselines: 0 };
  const time = async (op: () => Promise<void>, n: number): Promise<number> => {
    const t = performance.now();
    for (let i = 0; i < n; i++) await op();
    return performance.now() - t;
  };
  while (totals.peels < iterations) {
    const n = Math.max(1, Math.min(5, Math.ceil((iterations - totals.peels) / 2)));
    totals.peel += await time(peelOnce, n);
    totals.baseline += await time(baselineOnce, 2 * n);
    totals.peel += await time(peelOnce, n);
    totals.peels += 2 * n;
    totals.baselines += 2 * n;
  }
  return {
    peelMs: totals.peel / totals.peels,
    x25519AeadMs: totals.baseline / totals.baselines,
  };
}
