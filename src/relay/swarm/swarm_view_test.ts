import { assertEquals } from "../../../tests/assert.ts";
import { toHex, utf8 } from "../../shared/crypto/bytes.ts";
import { sha256 } from "../../shared/crypto/hash.ts";
import type { NodeRecord } from "../../shared/node_record.ts";
import { swarmFor } from "./swarm_map.ts";
import { swarmViewOf } from "./swarm_view.ts";

function record(i: number): NodeRecord {
  const id = toHex(sha256(utf8(`view-node-${i}`)));
  return { id, x25519: id, addr: `127.0.0.1:${1000 + i}`, version: 1, ts: 0, pow: "", sig: "" };
}

Deno.test("a notified view keeps swarms until the live set changes", () => {
  let nodes = Array.from({ length: 8 }, (_, i) => record(i));
  const listeners: (() => void)[] = [];
  let lookups = 0;
  const view = swarmViewOf("self", () => {
    lookups++;
    return nodes;
  }, {
    subscribe: (l) => {
      listeners.push(l);
      return () => {};
    },
  });
  const key = sha256(utf8("k"));
  const first = view.members(key);
  view.members(key);
  assertEquals(lookups, 1, "the second lookup is cached");
  // A node that outranks everyone joins: the cache must not hide it.
  nodes = [...nodes, ...Array.from({ length: 40 }, (_, i) => record(100 + i))];
  for (const l of listeners) l();
  const after = view.members(key);
  assertEquals(after.map((n) => n.id), swarmFor(key, nodes).map((n) => n.id));
  assertEquals(lookups, 2);
  assertEquals(first.length, 5);
});

Deno.test("a view without notifications always recomputes", () => {
  let nodes = [record(1), record(2)];
  const view = swarmViewOf("self", () => nodes);
  const key = sha256(utf8("k"));
  assertEquals(view.members(key).length, 2);
  nodes = [...nodes, record(3)];
  assertEquals(view.members(key).length, 3);
});
