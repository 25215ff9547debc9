/**
 * The directory's change feed (PROTOCOL.md §3, `GET /v1/directory?after=`):
 * arrival order, re-signed records arriving again, pages and cursors, and
 * room for more nodes than one page carries.
 */
import { assert, assertEquals, assertFalse, assertThrows } from "../../../tests/assert.ts";
import { testIdentity } from "../../../tests/test_identity.ts";
import { MAX_DIRECTORY_RECORDS } from "../../shared/codec/limits.ts";
import { silentLogger } from "../../shared/log.ts";
import { Directory } from "./directory.ts";
import { signRecord } from "./record.ts";
import type { NodeIdentity, NodeRecord } from "./record_types.ts";

const T0 = 1_764_000_000_000;

function directoryOf(me: NodeIdentity, clock = () => T0): Directory {
  return new Directory({ identity: me, powBits: 0, clock, log: silentLogger });
}

async function recordsOf(n: number, ts = T0): Promise<NodeRecord[]> {
  const out: NodeRecord[] = [];
  for (let i = 0; i < n; i++) {
    const id = await testIdentity();
    out.push(await signRecord(id, { addr: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:7000`, ts }));
  }
  return out;
}

Deno.test("changes come in arrival order, and a re-signed record arrives again", async () => {
  const me = await testIdentity();
  const dir = directoryOf(me);
  const empty = dir.changesAfter(undefined);
  assertEquals(empty.records, []);
  assertFalse(empty.more);

  const [a, b] = await recordsOf(2);
  await dir.merge([a, b]);
  const first = dir.changesAfter(undefined);
  assertEquals(first.records.map((r) => r.id), [a!.id, b!.id]);
  assertFalse(first.more);
  assertEquals(dir.changesAfter(first.cursor).records, [], "nothing new after the cursor");

  // A new node arrives; a forged newer record of a is refused, so it is no change.
  const cKeys = await testIdentity();
  const c = await signRecord(cKeys, { addr: "10.9.9.9:7000", ts: T0 });
  await dir.merge([{ ...a!, ts: T0 + 1 }, c]);
  const second = dir.changesAfter(first.cursor);
  assertEquals(second.records.map((r) => r.id), [cKeys.id]);

  // This node's own record is a change once it is reachable, not before.
  const mine = await signRecord(me, { addr: "10.0.0.99:7000", ts: T0 });
  dir.setSelf(mine, { reachable: false });
  assertEquals(dir.changesAfter(second.cursor).records, []);
  dir.setSelf(mine, { reachable: true });
  assertEquals(dir.changesAfter(second.cursor).records, [mine]);
  // The full feed lists each node once, with its newest record.
  assertEquals(dir.changesAfter(undefined).records.length, 4);
  await dir.close();
});

Deno.test("a cursor from another directory or a restart starts over; a malformed one is refused", async () => {
  const dir = directoryOf(await testIdentity());
  const other = directoryOf(await testIdentity());
  const records = await recordsOf(3);
  await dir.merge(records);
  await other.merge(records);
  const foreign = other.changesAfter(undefined).cursor;
  assertEquals(dir.changesAfter(foreign).records.length, 3, "unknown epoch: from the start");
  const ahead = dir.changesAfter(undefined).cursor.replace(/\.\d+$/, ".999999");
  assertEquals(dir.changesAfter(ahead).records.length, 3, "a number never given: from the start");
  for (
    const bad of ["", "x", "00.1", `${"a".repeat(16)}.-1`, `${"a".repeat(16)}.01`, "a".repeat(50)]
  ) {
    assertThrows(() => dir.changesAfter(bad), RangeError);
  }
  await dir.close();
  await other.close();
});

Deno.test("a directory holds more nodes than one page, and pages through them", async () => {
  const me = await testIdentity();
  const dir = directoryOf(me);
  const total = MAX_DIRECTORY_RECORDS + 500;
  const records = await recordsOf(total);
  for (let i = 0; i < total; i += MAX_DIRECTORY_RECORDS) {
    await dir.merge(records.slice(i, i + MAX_DIRECTORY_RECORDS));
  }
  assertEquals(dir.size(), total);
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < 5; page++) {
    const answer = dir.changesAfter(cursor);
    assert(answer.records.length <= MAX_DIRECTORY_RECORDS);
    for (const r of answer.records) seen.add(r.id);
    cursor = answer.cursor;
    if (!answer.more) break;
  }
  assertEquals(seen.size, total);
  // Sampling draws distinct live peers without copying the directory.
  const sample = dir.samplePeers(3, Math.random);
  assertEquals(new Set(sample.map((r) => r.id)).size, 3);
  assertFalse(sample.some((r) => r.id === me.id));
  await dir.close();
});

Deno.test("dropped and stale records leave the feed, and superseded arrivals are compacted", async () => {
  let now = T0;
  const dir = directoryOf(await testIdentity(), () => now);
  const [a, b] = await recordsOf(2);
  await dir.merge([a, b]);
  for (let i = 0; i < 3; i++) dir.markFailure(a!.id);
  assertEquals(dir.changesAfter(undefined).records.map((r) => r.id), [b!.id]);
  // Re-sign b many times: the feed still lists it once.
  const bKeys = await testIdentity();
  await dir.merge([await signRecord(bKeys, { addr: "10.1.1.1:7000", ts: now })]);
  for (let i = 1; i <= 3_000; i++) {
    await dir.merge([await signRecord(bKeys, { addr: "10.1.1.1:7000", ts: now + i })]);
  }
  assertEquals(dir.changesAfter(undefined).records.length, 2);
  now += 4 * 3600_000; // every record is stale now
  assertEquals(dir.changesAfter(undefined).records, []);
  assertEquals(dir.size(), 0);
  await dir.close();
});
