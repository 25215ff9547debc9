import { assert, assertEquals, assertFalse } from "../../../tests/assert.ts";
import { silentLogger } from "../../shared/log.ts";
import { loadOrCreateIdentity } from "../identity.ts";
import { Directory, DIRECTORY_FILE, MAX_FAILURES } from "./directory.ts";
import { RECORD_MAX_AGE_MS, signRecord } from "./record.ts";
import type { NodeIdentity } from "./record_types.ts";

const POW = 8;
const T0 = 1_764_000_000_000;

async function identities(n: number): Promise<NodeIdentity[]> {
  const dir = await Deno.makeTempDir();
  try {
    const out = [];
    for (let i = 0; i < n; i++) {
      out.push(await loadOrCreateIdentity(`${dir}/${i}`, { powBits: POW }));
    }
    return out;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function fakeClock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function ids(dir: Directory): string[] {
  return dir.liveNodes().map((r) => r.id).sort();
}

Deno.test("merge keeps valid records, the newest per node, never our own", async () => {
  const [me, a, b] = await identities(3);
  const clock = fakeClock();
  const dir = new Directory({ identity: me!, powBits: POW, clock: clock.now, log: silentLogger });
  const a1 = await signRecord(a!, { addr: "10.0.0.1:7000", ts: T0 - 1000 });
  const a2 = await signRecord(a!, { addr: "10.0.0.2:7000", ts: T0 });
  const b1 = await signRecord(b!, { addr: "10.0.0.3:7000", ts: T0 });
  const mine = await signRecord(me!, { addr: "10.0.0.9:7000", ts: T0 });

  assertEquals(await dir.merge([a1, b1, mine, { junk: true }, null, "x"]), 2);
  assertEquals(ids(dir), [a!.id, b!.id].sort());
  assertEquals(dir.get(a!.id)?.addr, "10.0.0.1:7000");

  assertEquals(await dir.merge([a2]), 1, "newer ts wins");
  assertEquals(dir.get(a!.id)?.addr, "10.0.0.2:7000");
  assertEquals(await dir.merge([a1, a2]), 0, "older or same ts is ignored");
  assertEquals(dir.get(a!.id)?.addr, "10.0.0.2:7000");

  // A forged newer record does not replace the real one.
  assertEquals(await dir.merge([{ ...a2, ts: T0 + 5 }]), 0);
  assertEquals(dir.get(a!.id)?.ts, T0);

  // Self counts only when reachable.
  assertFalse(dir.isKnown(me!.id));
  dir.setSelf(mine, { reachable: false });
  assertEquals(dir.size(), 2);
  assertEquals(dir.get(me!.id), mine);
  dir.setSelf(mine, { reachable: true });
  assertEquals(dir.size(), 3);
  assert(dir.isKnown(me!.id));
  assertEquals(ids(dir), [me!.id, a!.id, b!.id].sort());
  assertEquals(dir.peers().length, 2);

  // Re-signed records (same address) replace the old ones in the live list.
  const a3 = await signRecord(a!, { addr: "10.0.0.2:7000", ts: T0 + 10 });
  assertEquals(await dir.merge([a3]), 1);
  assertEquals(dir.liveNodes().find((r) => r.id === a!.id)?.ts, T0 + 10);
  const mine2 = await signRecord(me!, { addr: "10.0.0.9:7000", ts: T0 + 10 });
  dir.setSelf(mine2, { reachable: true });
  assertEquals(dir.liveNodes().find((r) => r.id === me!.id)?.ts, T0 + 10);
  await dir.close();
});

Deno.test("a node failing 3 probes in a row is dropped and revived only by a newer record", async () => {
  const [me, a] = await identities(2);
  const clock = fakeClock();
  const dir = new Directory({ identity: me!, powBits: POW, clock: clock.now, log: silentLogger });
  const a1 = await signRecord(a!, { addr: "10.0.0.1:7000", ts: T0 - 5000 });
  await dir.merge([a1]);

  for (let i = 0; i < MAX_FAILURES - 1; i++) dir.markFailure(a!.id);
  dir.markSuccess(a!.id); // an answer resets the count
  for (let i = 0; i < MAX_FAILURES - 1; i++) dir.markFailure(a!.id);
  assert(dir.isKnown(a!.id));
  dir.markFailure(a!.id);
  assertFalse(dir.isKnown(a!.id));
  assertEquals(dir.size(), 0);

  clock.advance(1000);
  assertEquals(await dir.merge([a1]), 0, "the old record does not revive it");
  const signedAtDrop = await signRecord(a!, { addr: "10.0.0.1:7000", ts: T0 });
  assertEquals(await dir.merge([signedAtDrop]), 0, "nor one signed at the drop time");
  const a2 = await signRecord(a!, { addr: "10.0.0.1:7001", ts: T0 + 1 });
  assertEquals(await dir.merge([a2]), 1);
  assert(dir.isKnown(a!.id));
  await dir.close();
});

Deno.test("stale records are pruned and onChange fires when the live set changes", async () => {
  const [me, a, b] = await identities(3);
  const clock = fakeClock();
  const dir = new Directory({ identity: me!, powBits: POW, clock: clock.now, log: silentLogger });
  let changes = 0;
  const off = dir.onChange(() => changes++);

  await dir.merge([await signRecord(a!, { addr: "10.0.0.1:7000", ts: T0 - 1000 })]);
  assertEquals(changes, 1);
  await dir.merge([await signRecord(a!, { addr: "10.0.0.1:7000", ts: T0 })]);
  assertEquals(changes, 1, "a re-signed record with the same address changes nothing");
  await dir.merge([await signRecord(b!, { addr: "10.0.0.2:7000", ts: T0 + 60_000 })]);
  assertEquals(changes, 2);

  const mine = await signRecord(me!, { addr: "10.0.0.9:7000", ts: T0 });
  dir.setSelf(mine, { reachable: false });
  assertEquals(changes, 2, "an unreachable self is not in the live set");
  dir.setSelf(mine, { reachable: true });
  assertEquals(changes, 3);

  clock.advance(RECORD_MAX_AGE_MS + 1); // a goes stale, b is still fresh
  assertEquals(ids(dir), [me!.id, b!.id].sort());
  assertEquals(changes, 4);

  for (let i = 0; i < MAX_FAILURES; i++) dir.markFailure(b!.id);
  assertEquals(changes, 5);
  off();
  dir.setSelf(mine, { reachable: false });
  assertEquals(changes, 5, "unsubscribed");
  await dir.close();
});

Deno.test("the directory is persisted and reloaded, dropping stale and invalid records", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const [me, a, b] = await identities(3);
    const clock = fakeClock();
    const deps = { identity: me!, dataDir, powBits: POW, clock: clock.now, log: silentLogger };
    const first = new Directory({ ...deps, persistDelayMs: 10 });
    await first.merge([
      await signRecord(a!, { addr: "10.0.0.1:7000", ts: T0 - RECORD_MAX_AGE_MS + 60_000 }),
      await signRecord(b!, { addr: "[::1]:7000", ts: T0 }),
    ]);
    first.setSelf(await signRecord(me!, { addr: "10.0.0.9:7000", ts: T0 }), { reachable: true });
    await first.close();

    const second = new Directory(deps);
    assertEquals(await second.load(), 2);
    assertEquals(ids(second), [a!.id, b!.id].sort());
    assertEquals(second.get(b!.id)?.addr, "[::1]:7000");
    await second.close();

    // An hour later a's record is stale: only b is loaded.
    clock.advance(3600_000);
    const third = new Directory(deps);
    assertEquals(await third.load(), 1);
    assertEquals(ids(third), [b!.id]);
    await third.close();

    // A tampered file loses the tampered record, a corrupt one loads nothing.
    const saved = JSON.parse(await Deno.readTextFile(`${dataDir}/${DIRECTORY_FILE}`));
    assertEquals(saved.records.length, 1);
    const tampered = { ...saved.records[0], addr: "10.6.6.6:7000" };
    saved.records = [tampered, ...saved.records];
    await Deno.writeTextFile(`${dataDir}/${DIRECTORY_FILE}`, JSON.stringify(saved));
    const fourth = new Directory(deps);
    assertEquals(await fourth.load(), 1);
    assertEquals(fourth.get(b!.id)?.addr, "[::1]:7000");
    await fourth.close();
    await Deno.writeTextFile(`${dataDir}/${DIRECTORY_FILE}`, "{not json");
    const fifth = new Directory(deps);
    assertEquals(await fifth.load(), 0);
    await fifth.close();

    const names = [];
    for await (const e of Deno.readDir(dataDir)) names.push(e.name);
    assertEquals(names, [DIRECTORY_FILE], "no temp files are left behind");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("changes are written after the debounce delay without an explicit flush", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const [me, a] = await identities(2);
    const dir = new Directory({
      identity: me!,
      dataDir,
      powBits: POW,
      log: silentLogger,
      persistDelayMs: 20,
    });
    await dir.merge([await signRecord(a!, { addr: "10.0.0.1:7000", ts: Date.now() })]);
    const deadline = Date.now() + 10_000;
    let text = "";
    while (!text.includes(a!.id)) {
      assert(Date.now() < deadline, "directory.json was not written in time");
      await new Promise((r) => setTimeout(r, 20));
      text = await Deno.readTextFile(`${dataDir}/${DIRECTORY_FILE}`).catch(() => "");
    }
    await dir.close();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
