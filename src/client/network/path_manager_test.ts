import { assert, assertEquals, assertNotEquals, assertThrows } from "../../../tests/assert.ts";
import { HearthError } from "../../shared/errors.ts";
import type { NodeRecord } from "../../shared/node_record.ts";
import { FileGuardStore, MemoryGuardStore } from "./guard_store.ts";
import { PathManager, type PathManagerOptions } from "./path_manager.ts";
import { manualClock, nodeAt, nodesAt, seededRandom } from "./_path_fixtures.ts";

const DAY = 86_400_000;

/** 12 nodes in 12 different /16s. */
const WIDE = nodesAt(12, (i) => `198.${i + 1}.0.1`);

function managerOf(nodes: NodeRecord[], options: Partial<PathManagerOptions> = {}) {
  const clock = manualClock();
  const store = new MemoryGuardStore();
  const paths = new PathManager({
    nodes: () => nodes,
    store,
    clock: clock.now,
    random: seededRandom(7),
    ...options,
  });
  return { paths, clock, store };
}

const ids = (path: readonly { id: string }[]) => path.map((n) => n.id);

Deno.test("the guard is pinned once and heads every path", async () => {
  const { paths, store } = managerOf(WIDE);
  const random = seededRandom(1);
  const first = paths.status().guard!;
  for (let i = 0; i < 300; i++) {
    const dest = WIDE[Math.floor(random() * WIDE.length)]!;
    const path = paths.pathFor(dest);
    if (dest.id !== first.id) assertEquals(path[0]!.id, first.id);
  }
  await paths.flush();
  assertEquals((await store.load())?.id, first.id);
  assertEquals(paths.status().guard?.id, first.id);
});

Deno.test("the guard survives a restart through the file store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-paths-" });
  try {
    const clock = manualClock();
    const open = (seed: number) =>
      PathManager.open({
        nodes: () => WIDE,
        store: new FileGuardStore(`${dir}/guard.json`),
        clock: clock.now,
        random: seededRandom(seed),
      });
    const before = await open(1);
    const guard = before.status().guard!;
    await before.flush();

    clock.advance(10 * DAY);
    // Another seed would pick another guard; the file keeps the old one.
    const fresh = new PathManager({ nodes: () => WIDE, clock: clock.now, random: seededRandom(2) });
    assertNotEquals(fresh.status().guard?.id, guard.id, "the test can fail");
    const after = await open(2);
    for (const dest of WIDE) {
      if (dest.id !== guard.id) assertEquals(after.pathFor(dest)[0]!.id, guard.id);
    }
    assertEquals(after.status().guard, guard);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a guard older than its lifetime is rotated at the next build", async () => {
  const { paths, clock, store } = managerOf(WIDE, { guardLifetimeMs: 30 * DAY });
  const old = paths.status().guard!.id;
  clock.advance(30 * DAY - 1);
  assertEquals(paths.status().guard?.id, old);
  clock.advance(1);
  const next = paths.status().guard!;
  assertNotEquals(next.id, old);
  assertEquals(next.pinnedAt, clock.now());
  assert(paths.status().paths.every((p) => p.hops[0]!.id === next.id), "old paths dropped");
  await paths.flush();
  assertEquals((await store.load())?.id, next.id);
});

Deno.test("failures at hop 0 drop the path and replace the guard after the limit", async () => {
  const { paths, store } = managerOf(WIDE, { guardFailureLimit: 3 });
  const dest = WIDE[11]!;
  let path = paths.pathFor(dest);
  const guard = path[0]!.id;
  // Two failures, then a success: the count starts over.
  paths.reportFailure(path, 0);
  assert(!paths.status().paths.some((p) => ids(p.hops).join() === ids(path).join()));
  paths.reportFailure(paths.pathFor(dest), 0);
  assertEquals(paths.status().guard?.failures, 2);
  paths.reportSuccess(paths.pathFor(dest));
  assertEquals(paths.status().guard?.failures, 0);
  for (let i = 0; i < 2; i++) paths.reportFailure(paths.pathFor(dest), 0);
  assertEquals(paths.status().guard?.id, guard);
  path = paths.pathFor(dest);
  paths.reportFailure(path, 0);

  const status = paths.status();
  assertNotEquals(status.guard?.id, guard);
  assertEquals(status.guard?.failures, 0);
  // The failed guard is left out of new paths, as a hop and as a destination.
  for (const p of status.paths) assert(!ids(p.hops).includes(guard));
  assert(paths.isAvoided(guard));
  await paths.flush();
  assertEquals((await store.load())?.id, status.guard?.id);
});

Deno.test("unattributed failures mark a path unhealthy, then drop and replace it", () => {
  const { paths } = managerOf(WIDE, { pathFailureLimit: 3 });
  const dest = WIDE[11]!;
  const path = paths.pathFor(dest);
  const key = ids(path).join();
  const find = () => paths.status().paths.find((p) => ids(p.hops).join() === key);
  paths.reportFailure(path);
  assertEquals(find()?.healthy, false);
  assertEquals(find()?.failures, 1);
  // A healthy path is preferred over it.
  for (let i = 0; i < 20; i++) assertNotEquals(ids(paths.pathFor(dest)).join(), key);
  paths.reportFailure(path);
  paths.reportSuccess(path);
  assertEquals(find()?.failures, 0, "a success forgives");
  for (let i = 0; i < 3; i++) paths.reportFailure(path);
  assertEquals(find(), undefined);
  assertEquals(paths.status().paths.length, 3);
  assert(paths.status().paths.every((p) => p.healthy));
  assertEquals(paths.status().guard?.failures, 0, "not the guard's failures");
});

Deno.test("a relay named by a failure leaves every path and is avoided for a while", () => {
  const { paths, clock } = managerOf(WIDE, { suspectMs: 600_000 });
  const guard = paths.status().guard!.id;
  const path = paths.pathFor(WIDE[11]!);
  const exit = path[2]!.id;
  paths.reportFailure(path, 2);
  assert(paths.isAvoided(exit));
  for (let i = 0; i < 50; i++) {
    const p = paths.pathFor(WIDE[i % 11]!);
    assert(!ids(p).includes(exit), "left out of new paths");
  }
  assert(paths.status().paths.every((p) => !ids(p.hops).includes(exit)));
  assertEquals(paths.status().guard, { ...paths.status().guard!, id: guard, failures: 0 });
  clock.advance(600_000);
  assertEquals(paths.isAvoided(exit), false, "forgiven after suspectMs");
  // With too few other nodes, a suspect is used rather than no path at all.
  const four = nodesAt(4, (i) => `198.${i + 1}.0.1`);
  const few = managerOf(four).paths;
  const dest = four.find((n) => n.id !== few.status().guard?.id)!;
  const p = few.pathFor(dest);
  few.reportFailure(p, 1);
  assert(ids(few.pathFor(dest)).includes(p[1]!.id));
});

Deno.test("spare paths are kept ready", () => {
  const { paths } = managerOf(WIDE, { spares: 4 });
  assertEquals(paths.status().paths.length, 5);
  const ready = paths.status().paths.map((p) => ids(p.hops).join());
  assertEquals(new Set(ready).size, 5);
  // A send takes a ready path: nothing new is built when one fits.
  const dest = WIDE[11]!;
  assert(ready.some((key) => !key.includes(dest.id)));
  assert(ready.includes(ids(paths.pathFor(dest)).join()));
  for (const p of paths.status().paths) paths.reportFailure(p.hops, 0);
  assertEquals(paths.status().paths.length, 5, "topped up again");
  const none = managerOf(WIDE, { spares: 0 }).paths;
  assertEquals(none.status().paths.length, 1);
});

Deno.test("a path never holds its destination, not even when the destination is the guard", () => {
  const { paths } = managerOf(nodesAt(5, (i) => `198.${i + 1}.0.1`), { spares: 1 });
  const guard = paths.status().guard!.id;
  const directory = nodesAt(5, (i) => `198.${i + 1}.0.1`);
  for (let round = 0; round < 50; round++) {
    for (const dest of directory) {
      const path = paths.pathFor(dest);
      assertEquals(path.length, 3);
      assertEquals(new Set([...ids(path), dest.id]).size, 4);
      if (dest.id === guard) assertNotEquals(path[0]!.id, guard);
      else assertEquals(path[0]!.id, guard);
    }
  }
  // The detour around the guard is never kept, and the guard stays pinned.
  assertEquals(paths.status().guard?.id, guard);
  assert(paths.status().paths.every((p) => p.hops[0]!.id === guard));
});

Deno.test("nodes that leave the directory leave the paths", () => {
  let nodes = [...WIDE];
  const { paths } = managerOf([], { nodes: () => nodes });
  const before = paths.status();
  const guard = before.guard!.id;
  const middle = before.paths[0]!.hops[1]!.id;
  nodes = nodes.filter((n) => n.id !== middle);
  const after = paths.status();
  assertEquals(after.guard?.id, guard);
  assert(after.paths.every((p) => !ids(p.hops).includes(middle)));
  assertEquals(after.paths.length, 3);
  nodes = nodes.filter((n) => n.id !== guard);
  assertNotEquals(paths.status().guard?.id, guard);
  assert(paths.status().paths.every((p) => !ids(p.hops).includes(guard)));
});

Deno.test("too few nodes: an unavailable error, not a short path", () => {
  const three = managerOf(nodesAt(3, (i) => `198.${i + 1}.0.1`)).paths;
  assertEquals(three.pathFor(nodeAt(99, "198.99.0.1:1")).length, 3);
  const err = assertThrows(() => three.pathFor(nodeAt(1, "198.1.0.1:7000")), HearthError);
  assertEquals(err.code, "unavailable");
  const two = managerOf(nodesAt(2, (i) => `198.${i + 1}.0.1`)).paths;
  assertThrows(() => two.pathFor(nodeAt(99, "198.99.0.1:1")), HearthError);
  assertEquals(managerOf([]).paths.status().guard, null);
});

Deno.test("status is a snapshot for the UI", async () => {
  const nodes = [
    nodeAt(1, "198.1.0.1:7000"),
    nodeAt(2, "198.2.0.1:7000"),
    nodeAt(3, "198.3.0.1:7000"),
    nodeAt(4, "198.4.0.1:7000"),
  ];
  const clock = manualClock(1_000);
  const paths = await PathManager.open({
    nodes: () => nodes,
    clock: clock.now,
    random: seededRandom(3),
    spares: 0,
    store: new MemoryGuardStore({ id: nodes[1]!.id, addr: "old:1", pinnedAt: 500, failures: 1 }),
  });
  const hops = paths.status().paths[0]!.hops;
  assertEquals(hops.length, 3);
  assertEquals(hops[0], { id: nodes[1]!.id, addr: "198.2.0.1:7000" });
  assertEquals(new Set(ids(hops)).size, 3);
  paths.reportFailure(hops);
  clock.advance(5);
  assertEquals(paths.status(), {
    guard: { id: nodes[1]!.id, addr: "198.2.0.1:7000", pinnedAt: 500, failures: 1 },
    paths: [{ hops, healthy: false, failures: 1 }],
    diversity: "on",
    diversityOffReason: null,
  });
});
