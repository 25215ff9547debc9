/**
 * Fuzzing the relay port of live node processes (DESIGN §6): every /v1/*
 * route answers malformed, truncated, oversized, random and mutated input
 * with a 4xx and a stable code of docs/PROTOCOL.md §1, never a 5xx and
 * never a hang, and the node keeps running and keeps its data. Seeded:
 * HEARTH_FUZZ_SEED=n replays a run.
 */
import fc from "fast-check";
import { assert, assertEquals } from "./assert.ts";
import { clientOf, directoryOf } from "./network_client.ts";
import {
  call,
  chunkedBody,
  expectError,
  fuzz,
  type FuzzNet,
  mutate,
  mutationArb,
  seededBytes,
  STORAGE_CODES,
  STORAGE_FIELDS,
  storageHeaderArb,
} from "./fuzz_cases.ts";
import {
  announce,
  infoAndDirectory,
  peerRoutes,
  rawFraming,
  unknownRoutes,
} from "./fuzz_routes.ts";
import { type Devnet, startDevnet } from "../tools/devnet_lib.ts";
import { sendOnionRequest } from "../src/client/network/onion_client.ts";
import { buf, fromHex, randomBytes, toHex } from "../src/shared/crypto/bytes.ts";
import { generateSigningKeyPair, sign, type SigningKeyPair } from "../src/shared/crypto/sign.ts";
import { decodeFrame, encodeFrame } from "../src/shared/codec/frame.ts";
import { ONION_PACKET_SIZES } from "../src/shared/codec/limits.ts";
import { type ErrorCode, HearthError, isErrorCode } from "../src/shared/errors.ts";
import type { NodeRecord } from "../src/shared/node_record.ts";
import { buildOnionPacket, type OnionPacket, sealOnionLayers } from "../src/shared/onion/build.ts";
import { type SignedOperands, storageSigningBytes } from "../src/shared/storage/signing.ts";
import { chunkKey, groupAccessBytes } from "../src/shared/storage/namespaces.ts";
import { swarmKeyOf } from "../src/shared/swarm_map.ts";
import { loadOrCreateIdentity } from "../src/relay/identity.ts";

const HOUR = 3_600_000;
const MAX_PACKET = 98_304;
const SLOT = 112;
const HEADER = 560;
const isPacketSize = (n: number) => (ONION_PACKET_SIZES as readonly number[]).includes(n);

/** What a hop answers an onion packet: a plain error, or a sealed answer of hop `hop`. */
type Outcome = { plain: ErrorCode } | { sealed: ErrorCode | "ok"; hop: number };

async function postOnion(net: FuzzNet, bytes: Uint8Array, onion: OnionPacket): Promise<Outcome> {
  const answer = await call(net.url("/v1/onion"), { method: "POST", body: buf(bytes) });
  if (answer.status !== 200) {
    return {
      plain: expectError(answer, ["bad_size", "too_large", "decrypt_failed", "replay"], "onion"),
    };
  }
  assert(isPacketSize(answer.body.length), "A sealed answer has one of the fixed sizes");
  const opened = await onion.openResponse(answer.body);
  const header = decodeFrame(opened.body).header;
  if (header.ok === true) return { sealed: "ok", hop: opened.hopIndex };
  const code = header.error;
  assert(isErrorCode(code) && code !== "internal", `Sealed answer ${JSON.stringify(header)}`);
  return { sealed: code, hop: opened.hopIndex };
}

/**
 * The answer PROTOCOL §7 gives a packet of `size` for an n-hop path whose
 * bytes [from, to) were changed (to a new length `length`).
 */
function expectedOutcome(
  change: { size: number; length: number; from: number; to: number },
  n: number,
): Outcome {
  const { size, length, from, to } = change;
  if (length > MAX_PACKET) return { plain: "too_large" };
  if (length !== size) return { plain: isPacketSize(length) ? "decrypt_failed" : "bad_size" };
  if (from === to) return { sealed: "ok", hop: n - 1 };
  if (from < HEADER) {
    const slot = Math.floor(from / SLOT);
    if (slot === 0) return { plain: "decrypt_failed" };
    // Hop `slot` cannot open its layer; the hop before it says so.
    if (slot < n) return { sealed: "hop_failed", hop: slot - 1 };
    // Only filler slots changed: nobody reads them.
    if (to <= HEADER) return { sealed: "ok", hop: n - 1 };
  }
  return { sealed: "decrypt_failed", hop: n - 1 };
}

/** A request for the fuzzed paths that needs a packet of exactly `size` bytes. */
function requestOfSize(size: number): Uint8Array {
  const key = toHex(randomBytes(32));
  if (size === 2_048) return encodeFrame({ method: "swarm", key });
  if (size === 16_384) return encodeFrame({ method: "swarm", key, pad: "p".repeat(6_000) });
  return encodeFrame({ method: "store", key, ns: 0, ttl: 60_000 }, randomBytes(20_000));
}

async function onionRandomBytes(net: FuzzNet): Promise<void> {
  const sizes = fc.oneof(
    fc.constantFrom(0, 1, 111, 112, 559, 560, 561, 2_047, 2_048, 2_049, 16_384, 98_304, 98_305),
    fc.integer({ min: 0, max: 110_000 }),
  );
  await fuzz(
    "POST /v1/onion with random bytes",
    fc.asyncProperty(sizes, fc.integer(), fc.boolean(), async (size, seed, stream) => {
      const bytes = seededBytes(seed, size);
      const body = stream ? chunkedBody(bytes, 7_000) : buf(bytes);
      const answer = await call(net.url("/v1/onion"), { method: "POST", body });
      const expected = size > MAX_PACKET
        ? "too_large"
        : isPacketSize(size)
        ? "decrypt_failed"
        : "bad_size";
      expectError(answer, [expected], `${size} random bytes`);
    }),
    { runs: 500, seedOffset: 1 },
  );
}

async function onionMutatedPackets(net: FuzzNet): Promise<void> {
  const [b, c] = net.others as [NodeRecord, NodeRecord];
  const seen = new Set<string>();
  await fuzz(
    "POST /v1/onion with mutated packets",
    fc.asyncProperty(
      fc.constantFrom(1, 3),
      fc.constantFrom(2_048, 2_048, 2_048, 16_384, 16_384, 98_304),
      mutationArb,
      async (hops, size, mutation) => {
        const path = hops === 1 ? [net.target] : [net.target, b, c];
        const onion = await buildOnionPacket(path, requestOfSize(size));
        assertEquals(onion.packet.length, size);
        const changed = mutate(onion.packet, mutation);
        const expected = expectedOutcome({ size, length: changed.bytes.length, ...changed }, hops);
        assertEquals(await postOnion(net, changed.bytes, onion), expected, "first answer");
        seen.add(JSON.stringify(expected));
        // A layer accepted once is a replay the second time.
        const again = "plain" in expected ? expected : { plain: "replay" as const };
        assertEquals(await postOnion(net, changed.bytes, onion), again, "second answer");
      },
    ),
    { runs: 600, seedOffset: 2 },
  );
  const outcomes = [
    "plain:decrypt_failed",
    "sealed:hop_failed",
    "sealed:decrypt_failed",
    "sealed:ok",
  ];
  for (const outcome of outcomes) {
    const [kind, code] = outcome.split(":");
    assert([...seen].some((s) => s.includes(`"${kind}":"${code}"`)), `No case got ${outcome}`);
  }
  // Layers with a bad timestamp or an unknown next hop, built by hand.
  const x25519 = fromHex(net.target.x25519, 32);
  const request = requestOfSize(2_048);
  for (const skew of [-6 * 60_000, 6 * 60_000]) {
    const onion = await sealOnionLayers([{
      x25519,
      routing: { kind: "final", ts: Date.now() + skew },
    }], request);
    const answer = await call(net.url("/v1/onion"), { method: "POST", body: buf(onion.packet) });
    expectError(answer, ["bad_timestamp"], "stale layer");
  }
  const onion = await sealOnionLayers([
    { x25519, routing: { kind: "forward", ts: Date.now(), next: randomBytes(32) } },
    { x25519: fromHex(b.x25519, 32), routing: { kind: "final", ts: Date.now() } },
  ], request);
  assertEquals(await postOnion(net, onion.packet, onion), { sealed: "unknown_hop", hop: 0 });
}

async function signedHeader(
  owner: SigningKeyPair,
  header: Record<string, unknown>,
  operands: SignedOperands,
): Promise<Record<string, unknown>> {
  const key = swarmKeyOf(owner.publicKey);
  const ts = Date.now();
  const sig = await sign(owner, storageSigningBytes(key, header.ns as number, ts, operands));
  return { ...header, key: toHex(key), pubkey: toHex(owner.publicKey), ts, sig: toHex(sig) };
}

/** A header signed by a group member with the group's (here: `group`'s) access token. */
async function memberHeader(
  group: SigningKeyPair,
  member: SigningKeyPair,
  header: Record<string, unknown>,
  operands: SignedOperands,
): Promise<Record<string, unknown>> {
  const key = swarmKeyOf(group.publicKey);
  const ts = Date.now();
  const token = await sign(group, groupAccessBytes(key, member.publicKey));
  const sig = await sign(member, storageSigningBytes(key, header.ns as number, ts, operands));
  return {
    ...header,
    key: toHex(key),
    pubkey: toHex(group.publicKey),
    member: toHex(member.publicKey),
    token: toHex(token),
    ts,
    sig: toHex(sig),
  };
}

async function storageThroughOnion(net: FuzzNet): Promise<void> {
  const owner = net.owner;
  const key = toHex(swarmKeyOf(owner.publicKey));
  const data = randomBytes(200);
  const member = await generateSigningKeyPair();
  const chunk = randomBytes(300);
  const hashes = [randomBytes(32), randomBytes(32)];
  const expiry = Date.now() + HOUR;
  const valid: { header: Record<string, unknown>; blob?: Uint8Array }[] = [
    { header: { method: "store", key, ns: 0, ttl: HOUR }, blob: data },
    {
      header: await signedHeader(owner, { method: "store", ns: 1, ttl: HOUR }, {
        method: "store",
        data,
      }),
      blob: data,
    },
    { header: await signedHeader(owner, { method: "retrieve", ns: 0 }, { method: "retrieve" }) },
    // A public-read namespace (ns % 10 == 5): retrieve needs no signature.
    { header: { method: "retrieve", key, ns: 5 } },
    {
      header: await signedHeader(owner, { method: "delete", ns: 0, hashes: hashes.map(toHex) }, {
        method: "delete",
        hashes,
      }),
    },
    {
      header: await signedHeader(
        owner,
        { method: "expire", ns: 0, hashes: hashes.map(toHex), expiry },
        { method: "expire", hashes, expiry },
      ),
    },
    { header: { method: "swarm", key } },
    // The group classes, with the owner as the group key: a member stores and reads.
    {
      header: await memberHeader(owner, member, { method: "store", ns: 11, ttl: HOUR }, {
        method: "store",
        data,
      }),
      blob: data,
    },
    {
      header: await memberHeader(owner, member, { method: "retrieve", ns: 13 }, {
        method: "retrieve",
      }),
    },
    // A content-addressed chunk: unsigned, under the hash of its data.
    {
      header: { method: "store", key: toHex(chunkKey(chunk)), ns: 7, ttl: HOUR },
      blob: chunk,
    },
    { header: { method: "retrieve", key: toHex(chunkKey(chunk)), ns: 7 } },
  ];
  type Case = { frame: Uint8Array; codes: readonly ErrorCode[]; ok: boolean };
  const refused = (frame: Uint8Array, codes: ErrorCode[]): Case => ({ frame, codes, ok: false });
  const judged = (frame: Uint8Array): Case => ({ frame, codes: STORAGE_CODES, ok: true });
  const randomFrames = fc.tuple(fc.integer(), fc.nat({ max: 3_000 }))
    .map(([seed, length]) => refused(seededBytes(seed, length), ["bad_request", "too_large"]));
  const randomHeaders = fc.tuple(storageHeaderArb, fc.option(fc.uint8Array({ maxLength: 300 })))
    .map(([header, blob]) => judged(encodeFrame(header, blob ?? undefined)));
  const mutatedFrames = fc.tuple(
    fc.constantFrom(...valid),
    fc.array(mutationArb, {
      minLength: 1,
      maxLength: 3,
    }),
  ).map(([v, ms]) =>
    judged(ms.reduce((f, m) => mutate(f, m).bytes, encodeFrame(v.header, v.blob)))
  );
  // One to three fields of a valid request replaced by values of any shape, or dropped.
  const editedHeaders = fc.tuple(
    fc.constantFrom(...valid),
    fc.uniqueArray(fc.constantFrom(...STORAGE_FIELDS), { minLength: 1, maxLength: 3 }),
    storageHeaderArb,
  ).map(([v, names, other]) => {
    const header = { ...v.header };
    for (const name of names) {
      if (name in other) header[name] = other[name];
      else delete header[name];
    }
    return judged(encodeFrame(header, v.blob));
  });
  const oversized = fc.integer({ min: 76_801, max: 97_000 }).map((n) =>
    refused(encodeFrame({ method: "store", key, ns: 0, ttl: HOUR }, new Uint8Array(n)), [
      "too_large",
    ])
  );
  const cases = fc.oneof(
    { weight: 1, arbitrary: randomFrames },
    { weight: 2, arbitrary: randomHeaders },
    { weight: 2, arbitrary: mutatedFrames },
    { weight: 4, arbitrary: editedHeaders },
    { weight: 1, arbitrary: oversized },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...valid).map((v) => judged(encodeFrame(v.header, v.blob))),
    },
  );
  const [b, c] = net.others as [NodeRecord, NodeRecord];
  const seen = new Set<string>();
  await fuzz(
    "the storage RPC through onion paths",
    fc.asyncProperty(cases, fc.boolean(), async ({ frame, codes, ok }, direct) => {
      const path = direct ? [net.target] : [b, c, net.target];
      let status = 0;
      const fetchAndSee: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        status = res.status;
        return res;
      };
      try {
        const answer = await sendOnionRequest(path, frame, { fetch: fetchAndSee });
        assert(ok, "Bad input was answered ok");
        assertEquals(decodeFrame(answer).header.ok, true);
        seen.add("ok");
      } catch (err) {
        if (!(err instanceof HearthError)) throw err;
        seen.add(err.code);
        assert(codes.includes(err.code), `Answer ${err.code} (${err.message}), expected ${codes}`);
        assertEquals(err.details?.hop, path.length - 1, "the destination answered");
      }
      assertEquals(status, 200, "the first hop accepted the layer");
    }),
    { runs: 1_200, seedOffset: 3 },
  );
  // The fuzzing reached past the frame parser: fields, signatures, the store itself.
  for (const code of ["ok", "bad_encoding", "unknown_method", "bad_signature", "bad_timestamp"]) {
    assert(seen.has(code), `No storage request was answered ${code}`);
  }
}

async function setUp(devnet: Devnet, baseDir: string): Promise<FuzzNet> {
  const addr = devnet.nodes[0]!.addr;
  const records = await directoryOf(addr);
  const target = records.find((r) => r.addr === addr)!;
  const { client } = await clientOf(addr);
  const owner = await generateSigningKeyPair();
  const data = randomBytes(3_000);
  const { hash } = await client.store(swarmKeyOf(owner.publicKey), 0, data, { ttlMs: HOUR });
  return {
    devnet,
    addr,
    url: (path) => `http://${addr}${path}`,
    target,
    others: records.filter((r) => r.id !== target.id),
    owner,
    canary: { hash, data },
    peer: await loadOrCreateIdentity(devnet.nodes[1]!.dataDir, { powBits: 8 }),
    stranger: await loadOrCreateIdentity(`${baseDir}/stranger`, { powBits: 8 }),
  };
}

async function checkAlive(net: FuzzNet): Promise<void> {
  for (const node of net.devnet.nodes) assert(!node.exited, `Node ${node.addr} exited`);
  const { client } = await clientOf(net.addr);
  for (const via of [net.target, ...net.others]) {
    const got = await client.retrieve(net.owner, 0, { via });
    const item = got.items.find((i) => i.hash === net.canary.hash);
    assert(item, "The item stored before fuzzing is still there");
    assertEquals(item.data, net.canary.data);
  }
  for (const node of net.devnet.nodes) {
    const log = await Deno.readTextFile(node.logPath);
    assert(!/^ERROR|internal|uncaught/im.test(log), `Node log has an error:\n${log}`);
  }
}

/** On failure: what the nodes said beyond their INFO lines (errors, stack traces). */
async function printOddLogLines(devnet: Devnet): Promise<void> {
  for (const node of devnet.nodes) {
    const lines = (await Deno.readTextFile(node.logPath)).split("\n");
    const odd = lines.filter((l) => l !== "" && !/^(INFO |hearth[: ])/.test(l));
    if (odd.length > 0) console.error(`${node.logPath}:\n${odd.slice(0, 60).join("\n")}`);
  }
}

Deno.test({
  name: "every /v1 route refuses bad input with a stable code, and the node lives on",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const baseDir = await Deno.makeTempDir({ prefix: "hearth-fuzz-" });
    const devnet = await startDevnet(4, { baseDir, gossipIntervalMs: 300 });
    try {
      await devnet.converge(4, 90_000);
      const net = await setUp(devnet, baseDir);
      const steps: [string, (net: FuzzNet) => Promise<void>][] = [
        ["POST /v1/onion: random bytes of every size", onionRandomBytes],
        ["POST /v1/onion: mutated packets, replays, bad layers", onionMutatedPackets],
        ["the storage RPC through onion paths", storageThroughOnion],
        ["POST /v1/announce", announce],
        ["GET /v1/info and /v1/directory", infoAndDirectory],
        ["replication and sync routes", peerRoutes],
        ["unknown routes and methods", unknownRoutes],
        ["raw HTTP framing", rawFraming],
        ["the nodes run and keep their data", checkAlive],
      ];
      for (const [name, run] of steps) {
        const ok = await t.step({
          name,
          fn: () => run(net),
          sanitizeOps: false,
          sanitizeResources: false,
          sanitizeExit: false,
        });
        if (!ok) await printOddLogLines(devnet);
        assert(ok, `Step failed: ${name}`);
      }
    } finally {
      await devnet.stop();
      await Deno.remove(baseDir, { recursive: true });
    }
  },
});
