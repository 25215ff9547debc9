import { assertEquals } from "../../../tests/assert.ts";
import { randomBytes } from "../../shared/crypto/mod.ts";
import {
  HANDSHAKES_KEPT,
  NEW_HANDSHAKE_RESET_MS,
  PEERS_KEPT,
  RESET_INTERVAL_MS,
  ResetPacer,
} from "./reset_pacer.ts";

const MIN = NEW_HANDSHAKE_RESET_MS;

Deno.test("ratchet failures: one reset per peer per hour; peers are paced apart", () => {
  const pacer = new ResetPacer();
  assertEquals(pacer.due("a", { now: 0 }), true);
  assertEquals(pacer.due("b", { now: 1 }), true);
  assertEquals(pacer.due("a", { now: RESET_INTERVAL_MS - 1 }), false);
  assertEquals(pacer.due("a", { now: RESET_INTERVAL_MS }), true);
});

Deno.test("a new handshake gets a reset a minute on; an answered one waits the hour", () => {
  const pacer = new ResetPacer();
  const first = randomBytes(32);
  const second = randomBytes(32);
  assertEquals(pacer.due("a", { now: 0, handshake: first }), true);
  assertEquals(pacer.due("a", { now: MIN - 1, handshake: second }), false, "too soon");
  assertEquals(pacer.due("a", { now: MIN, handshake: first.slice() }), false, "answered");
  assertEquals(pacer.due("a", { now: MIN, handshake: second }), true);
  assertEquals(pacer.due("a", { now: 3 * MIN }), false, "a ratchet failure waits the hour");
  assertEquals(pacer.due("a", { now: 3 * MIN, handshake: second }), false);
});

Deno.test("only the last few handshakes per peer, and a bounded number of peers, are kept", () => {
  const pacer = new ResetPacer();
  const keys = Array.from({ length: HANDSHAKES_KEPT + 1 }, () => randomBytes(32));
  keys.forEach((handshake, i) => assertEquals(pacer.due("a", { now: i * MIN, handshake }), true));
  const later = (HANDSHAKES_KEPT + 1) * MIN;
  assertEquals(pacer.due("a", { now: later, handshake: keys[1]! }), false, "still kept");
  assertEquals(pacer.due("a", { now: later, handshake: keys[0]! }), true, "forgotten");
  // Past PEERS_KEPT peers the least recently reset is forgotten (its next reset comes sooner).
  for (let i = 0; i < PEERS_KEPT; i++) pacer.due(`p${i}`, { now: later });
  assertEquals(pacer.due("a", { now: later + 1 }), true);
  assertEquals(pacer.due(`p${PEERS_KEPT - 1}`, { now: later + 1 }), false);
});
