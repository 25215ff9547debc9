import fc from "fast-check";
import { assert, assertEquals, assertRejects, assertThrows } from "../../../tests/assert.ts";
import { toHex } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import { loadOrCreateIdentity, solvePow } from "../identity.ts";
import {
  isValidAddr,
  parseRecord,
  RECORD_MAX_AGE_MS,
  RECORD_MAX_FUTURE_MS,
  signRecord,
  verifyRecord,
} from "./record.ts";
import type { NodeIdentity, NodeRecord } from "./record_types.ts";

const NOW = 1_764_000_000_000;
const POW = 8;

async function makeIdentity(): Promise<NodeIdentity> {
  const dir = await Deno.makeTempDir();
  try {
    return await loadOrCreateIdentity(dir, { powBits: POW });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function codeOf(record: unknown, options = { now: NOW, powBits: POW }): Promise<string> {
  try {
    await verifyRecord(parseRecord(record), options);
    return "ok";
  } catch (err) {
    if (err instanceof HearthError) return err.code;
    throw err;
  }
}

Deno.test("a signed record parses and verifies", async () => {
  const identity = await makeIdentity();
  const record = await signRecord(identity, { addr: "127.0.0.1:7000", ts: NOW });
  assertEquals(record.version, 1);
  assertEquals(record.id, identity.id);
  const parsed = parseRecord(JSON.parse(JSON.stringify(record)));
  assertEquals(parsed, record);
  await verifyRecord(parsed, { now: NOW, powBits: POW });
  // Freshness bounds are inclusive.
  await verifyRecord(parsed, { now: NOW - RECORD_MAX_FUTURE_MS, powBits: POW });
  await verifyRecord(parsed, { now: NOW + RECORD_MAX_AGE_MS, powBits: POW });
});

Deno.test("a tampered, weak, stale or malformed record is refused with its code", async () => {
  const identity = await makeIdentity();
  const record = await signRecord(identity, { addr: "node.example:7000", ts: NOW });
  const other = await signRecord(await makeIdentity(), { addr: "node.example:7000", ts: NOW });
  const cases: [string, unknown, string][] = [
    ["addr changed", { ...record, addr: "node.example:7001" }, "bad_signature"],
    ["ts changed", { ...record, ts: NOW + 1 }, "bad_signature"],
    ["signature of another node", { ...record, sig: other.sig }, "bad_signature"],
    ["signature bit flipped", { ...record, sig: flipHex(record.sig) }, "bad_signature"],
    [
      "far future",
      await signRecord(identity, { addr: record.addr, ts: NOW + RECORD_MAX_FUTURE_MS + 1 }),
      "stale_record",
    ],
    [
      "too old",
      await signRecord(identity, { addr: record.addr, ts: NOW - RECORD_MAX_AGE_MS - 1 }),
      "stale_record",
    ],
    [
      "version 2",
      await signRecord(identity, { addr: record.addr, ts: NOW, version: 2 }),
      "bad_request",
    ],
    ["extra field", { ...record, extra: 1 }, "bad_request"],
    ["missing field", { ...record, pow: undefined }, "bad_request"],
    ["ts as string", { ...record, ts: String(NOW) }, "bad_request"],
    ["fractional ts", { ...record, ts: NOW + 0.5 }, "bad_request"],
    ["uppercase hex", { ...record, id: record.id.toUpperCase() }, "bad_encoding"],
    ["short id", { ...record, id: record.id.slice(2) }, "bad_encoding"],
    ["not an object", [record], "bad_request"],
    ["null", null, "bad_request"],
    ["bad addr", { ...record, addr: "node.example" }, "bad_request"],
    ["port 0", { ...record, addr: "node.example:0" }, "bad_request"],
    ["long addr", { ...record, addr: "a".repeat(250) + ".b:7000" }, "bad_request"],
  ];
  for (const [what, value, code] of cases) {
    assertEquals(await codeOf(value), code, what);
  }
});

Deno.test("a proof of work below the difficulty is refused with bad_pow", async () => {
  const identity = await makeIdentity();
  // Re-sign with a nonce that meets 0 bits but (with high probability) not 24.
  const weak: NodeIdentity = {
    ...identity,
    powNonce: solvePow(identity.signing.publicKey, identity.dh.publicKey, 0),
  };
  const record = await signRecord(weak, { addr: "10.0.0.1:7000", ts: NOW });
  assertEquals(await codeOf(record, { now: NOW, powBits: 0 }), "ok");
  assertEquals(await codeOf(record, { now: NOW, powBits: 40 }), "bad_pow");
  // The same record with the real nonce but the signature over the weak one.
  assertEquals(await codeOf({ ...record, pow: toHex(identity.powNonce) }), "bad_signature");
});

Deno.test("isValidAddr accepts IPv4, DNS names and [IPv6] with a port", () => {
  const good = [
    "127.0.0.1:1",
    "8.8.8.8:65535",
    "localhost:7000",
    "node-1.example.org:7000",
    "[::1]:7000",
    "[2001:db8::8a2e:370:7334]:443",
    "[::ffff:192.0.2.1]:80",
    "[1:2:3:4:5:6:7:8]:80",
  ];
  const bad = [
    "",
    "127.0.0.1",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "127.0.0.1:07000",
    "256.0.0.1:80",
    "1.2.3:80",
    "example.0x10:80",
    "-bad.example:80",
    "bad_name.example:80",
    "::1:7000",
    "[::1::]:80",
    "[1:2:3:4:5:6:7:8:9]:80",
    "[::1]",
    "[g::1]:80",
    "http://a:80",
    "a b:80",
    "a".repeat(64) + ".example:80",
    "a.".repeat(126) + "com:80",
  ];
  for (const a of good) assert(isValidAddr(a), a);
  for (const a of bad) assert(!isValidAddr(a), a);
});

Deno.test("signRecord refuses an invalid own address", async () => {
  const identity = await makeIdentity();
  await assertRejects(() => signRecord(identity, { addr: "nope", ts: NOW }), RangeError);
  assertThrows(() => parseRecord("{}"), HearthError);
});

Deno.test("any mutation of a valid record's JSON is refused or parses to the same record", async () => {
  const identity = await makeIdentity();
  const record = await signRecord(identity, { addr: "[2001:db8::1]:7000", ts: NOW });
  const text = JSON.stringify(record);
  const mutation = fc.oneof(
    // Replace one character.
    fc.record({
      at: fc.nat({ max: text.length - 1 }),
      ch: fc.constantFrom(...'0123456789abcdefABCDEF:.[]"{},xyz -'),
    }).map(({ at, ch }) => text.slice(0, at) + ch + text.slice(at + 1)),
    // Delete a range.
    fc.tuple(fc.nat({ max: text.length }), fc.nat({ max: 8 }))
      .map(([at, n]) => text.slice(0, at) + text.slice(at + n)),
    // Insert text.
    fc.tuple(fc.nat({ max: text.length }), fc.string({ maxLength: 6 }))
      .map(([at, s]) => text.slice(0, at) + s + text.slice(at)),
    // Replace one field's value with any JSON value, or drop it.
    fc.tuple(fc.constantFrom(...Object.keys(record)), fc.option(fc.jsonValue({ maxDepth: 1 })))
      .map(([key, v]) => JSON.stringify({ ...record, [key]: v ?? undefined })),
    // Change one character inside one field's text.
    fc.tuple(
      fc.constantFrom(...Object.keys(record)),
      fc.nat(),
      fc.string({ minLength: 1, maxLength: 1 }),
    )
      .map(([key, at, ch]) => {
        const v = String(record[key as keyof NodeRecord]);
        const i = at % v.length;
        const changed = v.slice(0, i) + ch + v.slice(i + 1);
        const value = typeof record[key as keyof NodeRecord] === "number"
          ? Number(changed)
          : changed;
        return JSON.stringify({ ...record, [key]: value });
      }),
  );
  let verified = 0;
  await fc.assert(
    fc.asyncProperty(mutation, async (mutated) => {
      let value: unknown;
      try {
        value = JSON.parse(mutated);
      } catch {
        return; // not JSON: the route answers bad_request
      }
      let parsed: NodeRecord;
      try {
        parsed = parseRecord(value);
        await verifyRecord(parsed, { now: NOW, powBits: POW });
      } catch (err) {
        assert(err instanceof HearthError, `unexpected ${err}`);
        return;
      }
      verified++;
      assertEquals(parsed, record, mutated);
    }),
    { numRuns: 1_000 },
  );
  // Some mutations (whitespace, the same character) keep the record intact.
  assert(verified > 0);
});

function flipHex(hex: string): string {
  const last = parseInt(hex.slice(-1), 16) ^ 1;
  return hex.slice(0, -1) + last.toString(16);
}
