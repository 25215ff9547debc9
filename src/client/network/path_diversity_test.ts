import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/assert.ts";
import type { NodeRecord } from "../../shared/node_record.ts";
import { PathManager } from "./path_manager.ts";
import { networkGroupOf } from "./network_group.ts";
import { manualClock, nodeAt, nodesAt, seededRandom } from "./_path_fixtures.ts";

/** Addresses from a handful of networks of every kind, so groups collide often. */
const ADDRS = [
  "10.1.0.1",
  "10.1.9.9",
  "10.2.0.1",
  "10.3.0.1",
  "192.168.4.4",
  "127.0.0.1",
  "[2001:db8::1]",
  "[2001:db8:1::1]",
  "[2001:db9::1]",
  "[::ffff:10.2.3.4]",
  "node-a.example.org",
  "node-b.example.org",
];

const directoryArb = fc.array(fc.nat({ max: ADDRS.length - 1 }), { minLength: 4, maxLength: 24 })
  .map((picks) => picks.map((a, i) => nodeAt(i + 1, `${ADDRS[a]}:${7000 + i}`)));

/** Operations on a manager: a request to a node of the directory (or beyond it), then an outcome. */
const opsArb = fc.array(
  fc.record({
    dest: fc.nat({ max: 30 }),
    outcome: fc.constantFrom("success", "failure", "failure-hop"),
    hop: fc.nat({ max: 2 }),
    advanceMs: fc.nat({ max: 3_600_000 }),
  }),
  { maxLength: 60 },
);

const groupsOf = (hops: readonly NodeRecord[]) => hops.map((h) => networkGroupOf(h.addr));

Deno.test("a path never holds the same node twice, nor its destination (property)", () => {
  fc.assert(
    fc.property(directoryArb, opsArb, fc.integer(), fc.boolean(), (nodes, ops, seed, dup) => {
      // A directory may list a record twice; paths still hold a node once.
      const listed = dup ? [...nodes, ...nodes.slice(0, 3)] : nodes;
      const clock = manualClock();
      const paths = new PathManager({
        nodes: () => listed,
        clock: clock.now,
        random: seededRandom(seed),
        guardLifetimeMs: 86_400_000,
      });
      const known = new Set(nodes.map((n) => n.id));
      for (const op of ops) {
        clock.advance(op.advanceMs);
        const dest = nodes[op.dest] ?? nodeAt(1000 + op.dest, `10.9.0.${op.dest}:1`);
        const others = nodes.filter((n) => n.id !== dest.id).length;
        if (others < 3) continue;
        const path = paths.pathFor(dest);
        assertEquals(path.length, 3);
        assertEquals(new Set([...path.map((h) => h.id), dest.id]).size, 4);
        assert(path.every((h) => known.has(h.id)));
        if (op.outcome === "success") paths.reportSuccess(path);
        else paths.reportFailure(path, op.outcome === "failure-hop" ? op.hop : undefined);
        for (const p of paths.status().paths) {
          assertEquals(new Set(p.hops.map((h) => h.id)).size, 3);
          assert(p.hops.every((h) => known.has(h.id)));
        }
      }
    }),
    { numRuns: 300, seed: 0x5eed },
  );
});

Deno.test("hops are in distinct networks, away from the destination's, whenever possible (property)", () => {
  fc.assert(
    fc.property(directoryArb, fc.integer(), fc.array(fc.nat({ max: 23 })), (nodes, seed, dests) => {
      const paths = new PathManager({ nodes: () => nodes, random: seededRandom(seed) });
      const status = paths.status();
      if (status.diversityOffReason === "devnet") return;
      const guard = nodes.find((n) => n.id === status.guard!.id)!;
      const guardGroup = networkGroupOf(guard.addr);
      for (const i of dests) {
        const dest = nodes[i % nodes.length]!;
        if (dest.id === guard.id || nodes.length < 4) continue;
        const path = paths.pathFor(dest);
        const destGroup = networkGroupOf(dest.addr);
        const rest = nodes.filter((n) => n.id !== guard.id && n.id !== dest.id);
        const groups = new Set(rest.map((n) => networkGroupOf(n.addr)));
        groups.delete(guardGroup);
        if (groups.size >= 2) {
          assertEquals(new Set(groupsOf(path)).size, 3, "hops in distinct networks");
        }
        groups.delete(destGroup);
        if (groups.size >= 2) {
          assert(
            !groupsOf(path.slice(1)).includes(destGroup),
            "middle and exit away from the destination",
          );
        }
      }
    }),
    { numRuns: 300, seed: 0xd1 },
  );
});

Deno.test("diversity is relaxed, and says so, when there are too few networks", () => {
  const twoNets = nodesAt(8, (i) => `10.${i % 2}.0.${i + 1}`);
  const paths = new PathManager({ nodes: () => twoNets, random: seededRandom(4) });
  const status = paths.status();
  assertEquals(status.diversity, "off");
  assertEquals(status.diversityOffReason, "too_few_networks");
  assertEquals(status.paths.length, 3);
  assertEquals(paths.pathFor(nodeAt(99, "10.5.0.1:1")).length, 3);

  const wide = nodesAt(8, (i) => `10.${i}.0.1`);
  const on = new PathManager({ nodes: () => wide, random: seededRandom(4) }).status();
  assertEquals([on.diversity, on.diversityOffReason], ["on", null]);
  for (const p of on.paths) assertEquals(new Set(groupsOf(p.hops as NodeRecord[])).size, 3);

  const off = new PathManager({ nodes: () => wide, diversity: "off" }).status();
  assertEquals([off.diversity, off.diversityOffReason], ["off", "disabled"]);
});

Deno.test("a loopback or single-network devnet turns diversity off", () => {
  const cases: [NodeRecord[], string | null][] = [
    [nodesAt(5, () => "127.0.0.1"), "devnet"],
    [nodesAt(5, (i) => `127.0.${i}.1`), "devnet"],
    [
      [...nodesAt(3, () => "127.0.0.1"), nodeAt(9, "[::1]:7000"), nodeAt(8, "localhost:1")],
      "devnet",
    ],
    [nodesAt(5, (i) => `10.0.${i}.1`), "devnet"],
    [[...nodesAt(4, () => "127.0.0.1"), nodeAt(9, "10.0.0.1:7000")], "too_few_networks"],
    [nodesAt(5, (i) => `10.${i}.0.1`), null],
  ];
  for (const [nodes, reason] of cases) {
    const status = new PathManager({ nodes: () => nodes, random: seededRandom(1) }).status();
    assertEquals(status.diversityOffReason, reason, nodes.map((n) => n.addr).join());
    assertEquals(status.diversity, reason === null ? "on" : "off");
    assertEquals(status.paths.length, 3);
  }
  // Forced on, a loopback devnet still gets paths, flagged as relaxed.
  const forced = new PathManager({ nodes: () => nodesAt(5, () => "127.0.0.1"), diversity: "on" });
  assertEquals(forced.status().diversityOffReason, "too_few_networks");
});
