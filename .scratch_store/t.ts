import { openDatabase } from "../src/shared/db/open.ts";
import { sql } from "kysely";
const d = await Deno.makeTempDir();
const { db, close } = await openDatabase<any>(`${d}/x.db`, [{ version: 1, async up(db) {
  await sql`CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, h BLOB NOT NULL UNIQUE, e INTEGER NOT NULL)`.execute(db);
}}]);
const r = await db.insertInto("t").values([{ h: new Uint8Array([1,2]), e: 1764000000000 }, { h: new Uint8Array([3]), e: 5 }]).onConflict((oc: any) => oc.column("h").doNothing()).returning(["h", "seq"]).execute();
console.log(r);
const r2 = await db.insertInto("t").values([{ h: new Uint8Array([1,2]), e: 1 }]).onConflict((oc: any) => oc.column("h").doNothing()).returning(["h"]).execute();
console.log(r2);
console.log(await db.selectFrom("t").selectAll().where("h", ">=", new Uint8Array([1])).where("h", "<", new Uint8Array([2])).execute());
console.log(await sql`select -10 % 10 as a, -7 % 10 as b`.execute(db));
await close();
