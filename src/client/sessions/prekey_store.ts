/**
 * The owner's private prekeys, in the client database (table `prekeys`,
 * schema v4): one current signed X25519 prekey (SPK) and one current
 * ML-KEM-768 prekey (KEM), each replaced weekly, and up to 100 one-time
 * X25519 prekeys (OPKs), replenished to 100 when fewer than 25 are left.
 *
 * Schedule (docs/PROTOCOL.md, sessions):
 * - SPK and KEM: a new pair every {@link SPK_ROTATE_MS} (7 days). The old
 *   ones are retired, still answer handshakes that name them, and their
 *   private keys are deleted {@link RETIRED_KEEP_MS} (30 days) after.
 * - OPK: the private key is deleted as soon as a handshake used it.
 * @module
 */
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import type { Kysely } from "kysely";
import { inTx } from "../db/transaction.ts";
import { dhKeyPairFromPrivate, generateDhKeyPair } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import type { ClientDb, PrekeyKind } from "../db/schema.ts";
import { MAX_OPKS, type PrekeyBundle, type PublicPrekey } from "./prekey_bundle.ts";
import { MAX_PREKEY_ID, type ResponderPrekeys } from "./pqxdh.ts";

/** A new SPK and KEM prekey this often, ms (weekly). */
export const SPK_ROTATE_MS = 7 * 86_400_000;
/** Retired SPK and KEM private keys are kept this long after retirement, then deleted, ms. */
export const RETIRED_KEEP_MS = 30 * 86_400_000;
/** How many unused one-time prekeys a replenishment leaves. */
export const OPK_TARGET = 100;
/** Replenish when fewer unused one-time prekeys than this are left. */
export const OPK_LOW = 25;

type Db = Kysely<ClientDb>;
interface NewKey {
  private: Uint8Array;
  public: Uint8Array;
}

/**
 * Bring the prekeys up to the schedule: generate what is missing, rotate a
 * due SPK and KEM, replenish the OPKs, and delete retired keys past their
 * keep time. Runs in one transaction (or in the caller's).
 * @param db the client database, or a transaction of it
 * @param options.now the clock, ms
 * @returns true when the published bundle's keys changed
 */
export async function ensurePrekeys(db: Db, options: { now: number }): Promise<boolean> {
  const { now } = options;
  return await inTx(db, async (tx) => {
    await tx.deleteFrom("prekeys")
      .where("kind", "in", ["spk", "kem"])
      .where("retired_at", "is not", null)
      .where("retired_at", "<=", now - RETIRED_KEEP_MS)
      .execute();
    let changed = false;
    for (const kind of ["spk", "kem"] as const) {
      const live = await tx.selectFrom("prekeys").select(["id", "created_at"])
        .where("kind", "=", kind).where("retired_at", "is", null)
        .orderBy("created_at", "desc").orderBy("id", "desc").execute();
      const current = live[0];
      const due = !current || now - current.created_at >= SPK_ROTATE_MS;
      const stale = due ? live : live.slice(1);
      if (stale.length > 0) {
        await tx.updateTable("prekeys").set({ retired_at: now })
          .where("kind", "=", kind).where("id", "in", stale.map((r) => r.id)).execute();
      }
      if (due) {
        await insertKeys(tx, kind, [kind === "kem" ? newKemKey() : await newDhKey()], now);
        changed = true;
      }
    }
    const unused = await countOf(tx, "opk");
    if (unused < OPK_LOW) {
      const fresh = await Promise.all(Array.from({ length: OPK_TARGET - unused }, newDhKey));
      await insertKeys(tx, "opk", fresh, now);
      changed = true;
    }
    return changed;
  });
}

/**
 * The bundle of the current prekeys: the current SPK and KEM, and the
 * unused OPKs (oldest first, at most {@link MAX_OPKS}). `createdAt` is the
 * newest key's creation time, so the same keys give the same bundle.
 * @param db the client database, or a transaction of it
 * @returns the bundle to sign
 * @throws {HearthError} `not_found` before {@link ensurePrekeys} made the keys
 */
export async function currentBundle(db: Db): Promise<PrekeyBundle> {
  const current = (kind: "spk" | "kem") =>
    db.selectFrom("prekeys").select(["id", "public", "created_at"])
      .where("kind", "=", kind).where("retired_at", "is", null)
      .orderBy("created_at", "desc").orderBy("id", "desc").limit(1).executeTakeFirst();
  const spk = await current("spk");
  const kem = await current("kem");
  if (!spk || !kem) throw new HearthError("not_found", "Prekeys are not made yet");
  const opks = await db.selectFrom("prekeys").select(["id", "public", "created_at"])
    .where("kind", "=", "opk").orderBy("created_at").orderBy("id").limit(MAX_OPKS).execute();
  const pub = (r: { id: number; public: ArrayBuffer | Uint8Array }): PublicPrekey => ({
    id: r.id,
    key: new Uint8Array(r.public),
  });
  return {
    createdAt: Math.max(spk.created_at, kem.created_at, ...opks.map((o) => o.created_at)),
    spk: pub(spk),
    kem: pub(kem),
    opks: opks.map(pub),
  };
}

/**
 * The private prekeys a handshake named, retired ones included.
 * @param db the client database, or a transaction of it
 * @param init the ids of the initiator's init part (`opkId` 0: none)
 * @returns the key pairs and the KEM secret, or undefined when any named id
 *   is unknown (retired past its keep time, or an OPK already used)
 */
export async function responderPrekeys(
  db: Db,
  init: { spkId: number; kemId: number; opkId: number },
): Promise<ResponderPrekeys | undefined> {
  const privateOf = async (kind: PrekeyKind, id: number) => {
    const row = await db.selectFrom("prekeys").select("private")
      .where("kind", "=", kind).where("id", "=", id).executeTakeFirst();
    return row ? new Uint8Array(row.private) : undefined;
  };
  const spk = await privateOf("spk", init.spkId);
  const kemSecret = await privateOf("kem", init.kemId);
  const opk = init.opkId === 0 ? undefined : await privateOf("opk", init.opkId);
  if (!spk || !kemSecret || (init.opkId !== 0 && !opk)) return undefined;
  return {
    spk: await dhKeyPairFromPrivate(spk),
    kemSecret,
    ...(opk ? { opk: await dhKeyPairFromPrivate(opk) } : {}),
  };
}

/**
 * Delete a one-time prekey's private key: a handshake used it. Call it in
 * the transaction that stores the new session, so both happen or neither.
 * @param db the client database, or the caller's transaction
 * @param id the OPK's id
 */
export async function consumeOpk(db: Db, id: number): Promise<void> {
  await db.deleteFrom("prekeys").where("kind", "=", "opk").where("id", "=", id).execute();
}

async function countOf(db: Db, kind: PrekeyKind): Promise<number> {
  const row = await db.selectFrom("prekeys").select((eb) => eb.fn.countAll<number>().as("n"))
    .where("kind", "=", kind).executeTakeFirst();
  return Number(row?.n ?? 0);
}

async function insertKeys(db: Db, kind: PrekeyKind, keys: NewKey[], now: number): Promise<void> {
  if (keys.length === 0) return;
  const taken = new Set(
    (await db.selectFrom("prekeys").select("id").where("kind", "=", kind).execute())
      .map((r) => r.id),
  );
  const rows = keys.map((k) => {
    let id = randomId();
    while (taken.has(id)) id = randomId();
    taken.add(id);
    return { kind, id, private: k.private, public: k.public, created_at: now, retired_at: null };
  });
  // A bound on the variables of one statement: 6 columns × 100 rows.
  for (let i = 0; i < rows.length; i += 100) {
    await db.insertInto("prekeys").values(rows.slice(i, i + 100)).execute();
  }
}

/** A prekey id, uniform in 1 … 2^32 − 2. */
function randomId(): number {
  const n = new Uint32Array(1);
  do crypto.getRandomValues(n); while (n[0]! < 1 || n[0]! > MAX_PREKEY_ID);
  return n[0]!;
}

async function newDhKey(): Promise<NewKey> {
  const pair = await generateDhKeyPair();
  return { private: pair.privateKey, public: pair.publicKey };
}

function newKemKey(): NewKey {
  const { publicKey, secretKey } = ml_kem768.keygen();
  return { private: secretKey, public: publicKey };
}
