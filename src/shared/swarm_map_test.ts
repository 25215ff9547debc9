/**
 * The swarm mapping is a pure function pinned by literal expectations, and
 * cross-checked against an independent computation of the labeled hash
 * with WebCrypto's SHA-256.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { buf, concatBytes, fromHex, toHex, u32, utf8 } from "./crypto/bytes.ts";
import { sha256 } from "./crypto/hash.ts";
import { swarmFor, swarmKeyOf, writeQuorum } from "./swarm_map.ts";

const nodes = Array.from({ length: 10 }, (_, i) => ({ id: toHex(sha256(utf8(`node-${i}`))) }));
const indexOf = (picked: { id: string }[]) => picked.map((n) => nodes.indexOf(n));

Deno.test("swarmFor: given these nodes and this key, exactly these members", () => {
  assertEquals(indexOf(swarmFor(sha256(utf8("account-key")), nodes)), [1, 0, 6, 3, 4]);
  assertEquals(indexOf(swarmFor(sha256(utf8("other")), nodes)), [1, 0, 7, 2, 4]);
  assertEquals(indexOf(swarmFor(sha256(utf8("account-key")), nodes.slice(0, 3))), [1, 0, 2]);
});

async function independentRanking(key: Uint8Array): Promise<number[]> {
  const label = utf8("hearth/swarm/v1");
  const scored = await Promise.all(nodes.map(async (n, i) => {
    const id = fromHex(n.id);
    const msg = concatBytes(u32(label.length), label, u32(32), id, u32(32), key);
    return { i, score: toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", buf(msg)))) };
  }));
  scored.sort((a, b) => (a.score < b.score ? 1 : -1));
  return scored.slice(0, 5).map((s) => s.i);
}

Deno.test("swarmFor agrees with an independent rendezvous computation", async () => {
  for (let k = 0; k < 20; k++) {
    const key = sha256(utf8(`key-${k}`));
    assertEquals(indexOf(swarmFor(key, nodes)), await independentRanking(key));
  }
});

Deno.test("swarmFor does not depend on the order of the directory", () => {
  const key = sha256(utf8("order"));
  const reversed = [...nodes].reverse();
  assertEquals(swarmFor(key, reversed).map((n) => n.id), swarmFor(key, nodes).map((n) => n.id));
});

Deno.test("swarmFor spreads keys over the nodes", () => {
  const counts = new Map<string, number>();
  for (let k = 0; k < 400; k++) {
    for (const n of swarmFor(sha256(utf8(`spread-${k}`)), nodes)) {
      counts.set(n.id, (counts.get(n.id) ?? 0) + 1);
    }
  }
  // Each node is in about half of the swarms (5 of 10); none is starved or in all.
  for (const n of nodes) {
    const c = counts.get(n.id) ?? 0;
    assert(c > 100 && c < 300, `node in ${c} of 400 swarms`);
  }
});

Deno.test("writeQuorum is 3 of 5 and a majority of smaller swarms", () => {
  assertEquals([1, 2, 3, 4, 5, 7].map(writeQuorum), [1, 2, 2, 3, 3, 3]);
  assertEquals(swarmKeyOf(new Uint8Array(32)).length, 32);
});
