/**
 * The session manager over two real client databases and real keys: a
 * handshake from a bundle signed and opened by the real bundle code, the
 * prekey message until the first reply, the per-peer lock (concurrent
 * seals never reuse a message number), the state committed with the
 * caller's write and rolled back with it, a replayed prekey message and an
 * unknown prekey refused, at most three sessions per peer, pruning, the
 * reset, and the sealed fallback (no bundle, a fetch that times out,
 * content too large for a session).
 */
import type { Kysely } from "kysely";
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { bytesEqual, fromUtf8, randomBytes, utf8 } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { type AccountKeys, accountKeysFromSeed, createSeed } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import { openEnvelope } from "../messages/envelope.ts";
import { withClientDb } from "../messages/test_chat_db.ts";
import { openBundle, type PrekeyBundle, signBundle } from "./prekey_bundle.ts";
import { currentBundle, ensurePrekeys } from "./prekey_store.ts";
import {
  type BundleSource,
  MAX_SESSION_CONTENT_BYTES,
  MAX_SESSIONS_PER_PEER,
  type SealedItem,
  SESSION_IDLE_MS,
  SessionManager,
  type SessionManagerOptions,
} from "./session_manager.ts";
import { decodeSessionRecord } from "./session_record.ts";
import { parseSessionPayload } from "./session_wire.ts";

const DAY = 86_400_000;

interface Party {
  db: Kysely<ClientDb>;
  keys: AccountKeys;
  sessions: SessionManager;
  /** How often its bundle source was asked. */
  fetches: number;
}

interface PartyOptions {
  /** Replace the bundle source (default: the other party's real signed bundle). */
  bundles?: BundleSource;
  fetchTimeoutMs?: number;
}

/** The real bundle of a party: signed with its identity key, then opened and verified. */
async function bundleOf(p: { db: Kysely<ClientDb>; keys: AccountKeys }): Promise<PrekeyBundle> {
  const signed = await signBundle(p.keys, await currentBundle(p.db));
  return await openBundle(signed, p.keys.signing.publicKey);
}

/** Two parties, each with a fresh database, prekeys and a manager whose bundles come from the other. */
async function withParties(
  fn: (a: Party, b: Party, clock: { now: number }) => Promise<void>,
  options: { a?: PartyOptions; b?: PartyOptions } = {},
): Promise<void> {
  const clock = { now: Date.now() };
  await withClientDb((dbA) =>
    withClientDb(async (dbB) => {
      const parties: Party[] = [];
      for (const [db, o] of [[dbA, options.a], [dbB, options.b]] as const) {
        await ensurePrekeys(db, { now: clock.now });
        const keys = await accountKeysFromSeed(createSeed());
        const party = { db, keys, fetches: 0 } as Party;
        const source: BundleSource = o?.bundles ?? (async (peer) => {
          const other = parties.find((p) => p.keys.accountId === peer);
          return other ? await bundleOf(other) : undefined;
        });
        const managerOptions: SessionManagerOptions = {
          db,
          keys,
          clock: () => clock.now,
          bundles: (peer, opts) => {
            party.fetches++;
            return source(peer, opts);
          },
          ...(o?.fetchTimeoutMs !== undefined ? { fetchTimeoutMs: o.fetchTimeoutMs } : {}),
        };
        party.sessions = new SessionManager(managerOptions);
        parties.push(party);
      }
      await fn(parties[0]!, parties[1]!, clock);
    })
  );
}

/** Seal text for `to`, committing nothing else. */
function seal(
  from: Party,
  to: Party,
  text: string,
  options: { handshake?: boolean; sealedOnly?: boolean } = {},
): Promise<SealedItem> {
  return from.sessions.seal(to.keys.accountId, utf8(text), {
    sentAt: Date.now(),
    handshake: options.handshake ?? true,
    ...(options.sealedOnly ? { sealedOnly: true } : {}),
  }, (_tx, sealed) => Promise.resolve(sealed));
}

/** Open an envelope at `to`: the text, or undefined when it does not decrypt. */
async function open(to: Party, envelope: Uint8Array): Promise<string | undefined> {
  const opened = await openEnvelope(envelope, to.keys);
  if (opened.version === 1) return fromUtf8(opened.content);
  const result = await to.sessions.open(opened, (_tx, content) => Promise.resolve(content));
  return result.opened ? fromUtf8(result.value) : undefined;
}

/** The payload kind an envelope carries: `sealed` (version 1), `prekey` or `ratchet`. */
async function kindOf(to: Party, envelope: Uint8Array): Promise<string> {
  const opened = await openEnvelope(envelope, to.keys);
  return opened.version === 1 ? "sealed" : parseSessionPayload(opened.content).kind;
}

async function sessionRows(p: Party) {
  return await p.db.selectFrom("sessions").selectAll().orderBy("created_at").orderBy("id")
    .execute();
}

async function opkIds(p: Party): Promise<number[]> {
  return (await p.db.selectFrom("prekeys").select("id").where("kind", "=", "opk").execute())
    .map((r) => r.id);
}

Deno.test("prekey messages until the first reply, then ratchet messages; the OPK is used once", async () => {
  await withParties(async (a, b) => {
    const opksBefore = await opkIds(b);
    const first = await seal(a, b, "one");
    const second = await seal(a, b, "two");
    assertEquals(first.encryption, "session");
    assertEquals([await kindOf(b, first.envelope), await kindOf(b, second.envelope)], [
      "prekey",
      "prekey",
    ]);
    assertEquals(a.fetches, 1);
    assertEquals(await open(b, first.envelope), "one");
    const opksAfter = await opkIds(b);
    assertEquals(opksAfter.length, opksBefore.length - 1);
    // The second prekey message of the same handshake opens with the session it made.
    assertEquals(await open(b, second.envelope), "two");
    assertEquals((await opkIds(b)).length, opksAfter.length);
    assertEquals((await sessionRows(b)).length, 1);
    const reply = await seal(b, a, "hi");
    assertEquals(await kindOf(a, reply.envelope), "ratchet");
    assertEquals(b.fetches, 0);
    assertEquals(await open(a, reply.envelope), "hi");
    const third = await seal(a, b, "three");
    assertEquals(await kindOf(b, third.envelope), "ratchet");
    assertEquals(await open(b, third.envelope), "three");
    // The initiator no longer keeps the init part once it has received.
    const record = decodeSessionRecord(new Uint8Array((await sessionRows(a))[0]!.state));
    assertEquals(record.pendingInit, null);
  });
});

Deno.test("concurrent seals to one peer take distinct message numbers (the per-peer lock)", async () => {
  await withParties(async (a, b) => {
    assertEquals(await open(b, (await seal(a, b, "start")).envelope), "start");
    assertEquals(await open(a, (await seal(b, a, "ack")).envelope), "ack");
    const texts = Array.from({ length: 20 }, (_, i) => `m${i}`);
    const sealed = await Promise.all(texts.map((t) => seal(a, b, t)));
    const headers = new Set<string>();
    for (const s of sealed) {
      const opened = await openEnvelope(s.envelope, b.keys);
      headers.add(String(parseSessionPayload(opened.content).header));
    }
    assertEquals(headers.size, texts.length);
    // Delivered backwards: every one still opens (skipped keys).
    const got: string[] = [];
    for (const s of sealed.toReversed()) got.push((await open(b, s.envelope))!);
    assertEquals(got.toSorted(), texts.toSorted());
  });
});

Deno.test("the new state commits with the caller's write, and rolls back with it", async () => {
  await withParties(async (a, b) => {
    // A store that throws: no session row, nothing written.
    await assertRejects(
      () =>
        a.sessions.seal(b.keys.accountId, utf8("x"), { sentAt: 1, handshake: true }, async (tx) => {
          await tx.insertInto("settings").values({ key: "probe", value_json: "1" }).execute();
          throw new HearthError("conflict", "Refused");
        }),
      HearthError,
    );
    assertEquals(await sessionRows(a), []);
    assertEquals(await a.db.selectFrom("settings").selectAll().execute(), []);
    // A store that succeeds: the session and the caller's row are both there.
    const sealed = await a.sessions.seal(b.keys.accountId, utf8("y"), {
      sentAt: 1,
      handshake: true,
    }, async (tx, s) => {
      await tx.insertInto("settings").values({ key: "probe", value_json: "1" }).execute();
      return s;
    });
    assertEquals((await sessionRows(a)).length, 1);
    assertEquals((await a.db.selectFrom("settings").selectAll().execute()).length, 1);
    // An apply that throws leaves the responder without a session, its OPK unused.
    const opks = await opkIds(b);
    const opened = await openEnvelope(sealed.envelope, b.keys);
    await assertRejects(
      () => b.sessions.open(opened, () => Promise.reject(new HearthError("internal", "Disk"))),
      HearthError,
    );
    assertEquals(await sessionRows(b), []);
    assertEquals(await opkIds(b), opks);
    assertEquals(await open(b, sealed.envelope), "y");
    // A state advanced by a committed seal is what the next seal starts from.
    const before = (await sessionRows(a))[0]!.state;
    await assertRejects(() =>
      a.sessions.seal(b.keys.accountId, utf8("z"), { sentAt: 2 }, () => Promise.reject(new Error()))
    );
    assert(bytesEqual(new Uint8Array((await sessionRows(a))[0]!.state), new Uint8Array(before)));
  });
});

Deno.test("a replayed prekey message, an unknown prekey or a tampered payload does not open", async () => {
  await withParties(async (a, b) => {
    const first = await seal(a, b, "once");
    assertEquals(await open(b, first.envelope), "once");
    // The same bytes again (a relay storing a copy under a new hash): refused, no new session.
    assertEquals(await open(b, first.envelope), undefined);
    assertEquals((await sessionRows(b)).length, 1);
    // A flipped bit in a ratchet message's ciphertext, or in its header: refused, and the
    // state unchanged, so the untouched message still opens.
    assertEquals(await open(a, (await seal(b, a, "ack")).envelope), "ack");
    const good = await openEnvelope((await seal(a, b, "intact")).envelope, b.keys);
    const stateBefore = (await sessionRows(b))[0]!.state;
    for (const at of [1, 20, good.content.length - 1]) {
      const content = good.content.slice();
      content[at]! ^= 1;
      const result = await b.sessions.open({ ...good, content }, () => Promise.resolve("applied"));
      assertEquals(result.opened, false);
    }
    assertEquals((await sessionRows(b))[0]!.state, stateBefore);
    const intact = await b.sessions.open(good, (_tx, c) => Promise.resolve(fromUtf8(c)));
    assertEquals(intact, { opened: true, value: "intact" });
    // A new handshake naming prekeys B no longer has (retired past their keep time).
    await a.db.deleteFrom("sessions").execute();
    const stale = await seal(a, b, "stale");
    assertEquals(await kindOf(b, stale.envelope), "prekey");
    await b.db.deleteFrom("prekeys").execute();
    assertEquals(await open(b, stale.envelope), undefined);
    assertEquals((await sessionRows(b)).length, 1);
  });
});

Deno.test("at most three sessions per peer; the newest sends; idle older ones are pruned", async () => {
  await withParties(async (a, b, clock) => {
    const made: string[] = [];
    for (let i = 0; i < MAX_SESSIONS_PER_PEER + 1; i++) {
      clock.now += 1_000;
      // A forgets its session, so each message is a new handshake.
      await a.db.deleteFrom("sessions").execute();
      assertEquals(await open(b, (await seal(a, b, `h${i}`)).envelope), `h${i}`);
      const rows = await sessionRows(b);
      made.push(rows[rows.length - 1]!.id);
    }
    const rows = await sessionRows(b);
    assertEquals(rows.map((r) => r.id), made.slice(1));
    // B answers on its newest session: A's newest (only) session opens it.
    assertEquals(await open(a, (await seal(b, a, "newest")).envelope), "newest");
    // Thirty days later, the two older ones (unused) go; the newest stays.
    clock.now += SESSION_IDLE_MS + DAY;
    assertEquals(await b.sessions.prune(), 2);
    assertEquals((await sessionRows(b)).map((r) => r.id), [made[made.length - 1]]);
    assertEquals(await b.sessions.prune(), 0);
  });
});

Deno.test("a reset drops the sessions made at or before it, not a newer one", async () => {
  await withParties(async (a, b, clock) => {
    assertEquals(await open(b, (await seal(a, b, "old")).envelope), "old");
    const resetAt = clock.now;
    clock.now += 1_000;
    // B's own new handshake after the reset's time (it had lost A's session).
    await b.db.deleteFrom("sessions").execute();
    assertEquals(await open(a, (await seal(b, a, "new")).envelope), "new");
    assertEquals((await sessionRows(a)).length, 2);
    const { dropped, value } = await a.sessions.reset(
      b.keys.accountId,
      { before: resetAt },
      async (tx) => (await tx.selectFrom("sessions").select("id").execute()).length,
    );
    assertEquals([dropped, value], [1, 1]);
    assertEquals(await a.sessions.hasSession(b.keys.accountId), true);
    assertEquals(await open(b, (await seal(a, b, "after")).envelope), "after");
  });
});

Deno.test("without a bundle, on a fetch timeout, for control items and large content: sealed", async () => {
  let hung = 0;
  await withParties(async (a, b) => {
    const none = await seal(a, b, "no bundle");
    assertEquals([none.encryption, await kindOf(b, none.envelope)], ["sealed", "sealed"]);
    assertEquals(await open(b, none.envelope), "no bundle");
    assertEquals(a.fetches, 1);
    const timedOut = await seal(b, a, "slow");
    assertEquals(timedOut.encryption, "sealed");
    assertEquals(hung, 1);
  }, {
    a: { bundles: () => Promise.resolve(undefined) },
    b: {
      fetchTimeoutMs: 50,
      bundles: () => {
        hung++;
        return new Promise(() => {});
      },
    },
  });
  await withParties(async (a, b) => {
    // A control item never starts a handshake.
    const control = await seal(a, b, "receipt", { handshake: false });
    assertEquals([control.encryption, a.fetches], ["sealed", 0]);
    assertEquals(await open(b, (await seal(a, b, "text")).envelope), "text");
    // With a session: used by control items, but not by a session-reset or oversize content.
    assertEquals((await seal(a, b, "receipt", { handshake: false })).encryption, "session");
    assertEquals((await seal(a, b, "reset", { sealedOnly: true })).encryption, "sealed");
    const large = await a.sessions.seal(
      b.keys.accountId,
      randomBytes(MAX_SESSION_CONTENT_BYTES + 1),
      { sentAt: 1 },
      (_tx, s) => Promise.resolve(s),
    );
    assertEquals(large.encryption, "sealed");
    const fits = await a.sessions.seal(
      b.keys.accountId,
      randomBytes(MAX_SESSION_CONTENT_BYTES),
      { sentAt: 1 },
      (_tx, s) => Promise.resolve(s),
    );
    assertEquals([fits.encryption, fits.envelope.length], ["session", 76_800]);
  });
});
