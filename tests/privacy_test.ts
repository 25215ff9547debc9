/**
 * DESIGN §5 on real node processes at the default log level: after real
 * traffic (stores, retrieves, a long-poll, delete, expire, refusals, a
 * restart, a kill -9), no log and no file of any data dir holds an account
 * key; no log holds a swarm key, an item hash, a timestamp, another node's
 * address or an IP outside the node's own start-up banner; and relay.db has
 * only the columns the design allows.
 */
import { createClient } from "@libsql/client";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { clientOf, directoryOf } from "./network_client.ts";
import { startDevnet, waitFor } from "../tools/devnet_lib.ts";
import { rpcViaOnion } from "../src/client/network/onion_client.ts";
import { buildOnionPacket } from "../src/shared/onion/build.ts";
import { encodeFrame } from "../src/shared/codec/frame.ts";
import { randomBytes, toBase64, toHex, utf8 } from "../src/shared/crypto/bytes.ts";
import { generateSigningKeyPair, type SigningKeyPair } from "../src/shared/crypto/sign.ts";
import { parseFlags } from "../src/shared/cli_flags.ts";
import { HearthError } from "../src/shared/errors.ts";
import { createLogger, type LogFields } from "../src/shared/log.ts";
import { swarmFor, swarmKeyOf } from "../src/shared/swarm_map.ts";

const HOUR = 3_600_000;

Deno.test("the logger drops string, object and non-finite fields and odd names", () => {
  const lines: string[] = [];
  const log = createLogger({ sink: (line) => lines.push(line) });
  const fields = {
    addr: "127.0.0.1:7000",
    key: "deadbeef",
    nested: { ip: "10.0.0.1" },
    list: ["a"],
    big: 7n,
    nan: NaN,
    inf: Infinity,
    "127.0.0.1": 5,
    count: 3,
    ok: true,
    directorySize: 7,
  } as unknown as LogFields;
  log.info("store.accepted", fields);
  log.warn("127.0.0.1:7000");
  log.debug("hidden", { count: 1 });
  assertEquals(lines, [
    "INFO hearth store.accepted count=3 ok=true directorySize=7",
    "WARN hearth invalid-event-name",
  ]);
});

/** Every file under `dir`, with its bytes. */
async function filesUnder(dir: string): Promise<{ path: string; bytes: Uint8Array }[]> {
  const out: { path: string; bytes: Uint8Array }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await filesUnder(path));
    else if (entry.isFile) out.push({ path, bytes: await Deno.readFile(path) });
  }
  return out;
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The forms a 32-byte value could take in a file: raw, hex, base64. */
function formsOf(value: Uint8Array): { name: string; bytes: Uint8Array }[] {
  const b64 = toBase64(value);
  return [
    { name: "raw", bytes: value },
    { name: "hex", bytes: utf8(toHex(value)) },
    { name: "HEX", bytes: utf8(toHex(value).toUpperCase()) },
    { name: "base64", bytes: utf8(b64.replace(/=+$/, "")) },
    {
      name: "base64url",
      bytes: utf8(b64.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")),
    },
  ];
}

function assertAbsent(
  files: { path: string; bytes: Uint8Array }[],
  what: string,
  value: Uint8Array,
  options: { exceptRaw?: (path: string) => boolean } = {},
): void {
  for (const file of files) {
    for (const form of formsOf(value)) {
      if (form.name === "raw" && options.exceptRaw?.(file.path)) continue;
      const at = indexOfBytes(file.bytes, form.bytes);
      assert(at < 0, `${file.path} holds ${what} (${form.name}) at byte ${at}`);
    }
  }
}

const isDbFile = (path: string) => /\/relay\.db(-wal|-shm)?$/.test(path);

/** A raw HTTP/1.1 request over TCP; returns the client's local port. */
async function rawRequest(
  addr: string,
  head: string,
  body: Uint8Array = new Uint8Array(0),
): Promise<number> {
  const [hostname, port] = addr.split(":") as [string, string];
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const timer = setTimeout(() => conn.close(), 15_000);
  try {
    const request = new Uint8Array([
      ...utf8(`${head}\r\ncontent-length: ${body.length}\r\n\r\n`),
      ...body,
    ]);
    for (let off = 0; off < request.length;) off += await conn.write(request.subarray(off));
    // The first bytes of the answer are enough: the request was served.
    const n = await conn.read(new Uint8Array(4_096));
    assert(n !== null && n > 0, "The node answered in time");
    return (conn.localAddr as Deno.NetAddr).port;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
}

/** Real traffic of three accounts; returns the client's known local ports and the hashes. */
async function runTraffic(
  addrs: string[],
  accounts: SigningKeyPair[],
): Promise<{ hashes: string[]; clientPorts: number[] }> {
  const hashes: string[] = [];
  const nodes = await directoryOf(addrs[0]!);
  const clients = await Promise.all(addrs.slice(0, 3).map((a) => clientOf(a)));
  // Wait until every member of the owner's swarm serves `count` items.
  const everywhere = async (owner: SigningKeyPair, ns: number, count: number) => {
    const other = clients[1]!.client;
    for (const via of swarmFor(swarmKeyOf(owner.publicKey), nodes)) {
      await waitFor(async () => (await other.retrieve(owner, ns, { via })).items.length === count, {
        timeoutMs: 30_000,
        what: "every swarm member to hold the items",
      });
    }
  };
  for (const [i, owner] of accounts.entries()) {
    const { client } = clients[i]!;
    const key = swarmKeyOf(owner.publicKey);
    for (let j = 0; j < 3; j++) {
      hashes.push((await client.store(key, 0, randomBytes(400 + j), { ttlMs: HOUR })).hash);
    }
    hashes.push((await client.store(key, 1, randomBytes(300), { ttlMs: HOUR, owner })).hash);
    await everywhere(owner, 0, 3);
    await everywhere(owner, 1, 1);
  }
  const [a, b, c] = accounts as [SigningKeyPair, SigningKeyPair, SigningKeyPair];
  const { client } = clients[0]!;
  const keyA = swarmKeyOf(a.publicKey);
  const members = swarmFor(keyA, nodes);

  // A long-poll answered by an item stored while it waits.
  const seen = await client.retrieve(a, 0);
  const polling = clients[1]!.client.retrieve(a, 0, {
    after: seen.items.at(-1)!.hash,
    waitMs: 15_000,
    via: members[0]!,
  });
  const late = await clients[2]!.client.store(keyA, 0, randomBytes(200), { ttlMs: HOUR });
  hashes.push(late.hash);
  assert((await polling).items.some((i) => i.hash === late.hash), "The long-poll got the new item");

  // Delete and expire.
  const bItems = (await client.retrieve(b, 0)).items;
  await client.delete(b, 0, [bItems[0]!.hash]);
  await waitFor(
    async () => !(await client.retrieve(b, 0)).items.some((i) => i.hash === bItems[0]!.hash),
    {
      timeoutMs: 30_000,
      what: "the deleted item to be gone",
    },
  );
  const cItems = (await client.retrieve(c, 0)).items;
  assert((await client.expire(c, 0, [cItems[0]!.hash], Date.now() + 20_000)) >= 1);

  // Refusals: a forged signature, a skewed clock, a bad TTL, the wrong swarm.
  const forged = await assertRejects(
    () =>
      rpcViaOnion([...nodes.filter((n) => n.id !== members[0]!.id).slice(0, 3), members[0]!], {
        method: "retrieve",
        key: toHex(keyA),
        ns: 0,
        pubkey: toHex(a.publicKey),
        ts: Date.now(),
        sig: toHex(randomBytes(64)),
      }),
    HearthError,
  );
  assertEquals(forged.code, "bad_signature");
  const { client: skewed } = await clientOf(addrs[1]!, { clock: () => Date.now() - 120_000 });
  assertEquals(
    (await assertRejects(() => skewed.retrieve(a, 0), HearthError)).code,
    "bad_timestamp",
  );
  const badTtl = await assertRejects(
    () => client.store(keyA, 0, randomBytes(10), { ttlMs: 1 }),
    HearthError,
  );
  assertEquals(badTtl.code, "bad_ttl");
  const outsider = nodes.find((n) => !members.some((m) => m.id === n.id))!;
  const redirected = await assertRejects(
    () => client.retrieve(a, 0, { via: outsider }),
    HearthError,
  );
  assertEquals(redirected.code, "wrong_swarm");

  // Requests whose client port the test knows: info, a garbage packet, a real onion request.
  const clientPorts: number[] = [];
  for (const addr of addrs) {
    clientPorts.push(await rawRequest(addr, `GET /v1/info HTTP/1.1\r\nhost: x`));
  }
  clientPorts.push(
    await rawRequest(addrs[0]!, `POST /v1/onion HTTP/1.1\r\nhost: x`, randomBytes(100)),
  );
  const onion = await buildOnionPacket(
    nodes.slice(0, 4),
    encodeFrame({ method: "swarm", key: toHex(keyA) }),
  );
  clientPorts.push(
    await rawRequest(nodes[0]!.addr, `POST /v1/onion HTTP/1.1\r\nhost: x`, onion.packet),
  );
  return { hashes, clientPorts };
}

Deno.test({
  name: "after real traffic no log or data file leaks accounts, hashes or addresses",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // The devnet runs at "info", which must be the default level.
    assertEquals(parseFlags([]).logLevel, "info");
    const baseDir = await Deno.makeTempDir({ prefix: "hearth-privacy-" });
    const devnet = await startDevnet(6, { baseDir, gossipIntervalMs: 300, logLevel: "info" });
    try {
      await devnet.converge(6, 90_000);
      const accounts = await Promise.all([0, 1, 2].map(() => generateSigningKeyPair()));
      const addrs = devnet.nodes.map((n) => n.addr);
      const records = await directoryOf(addrs[0]!);
      const nodes = addrs.map((addr) => ({ addr, id: records.find((r) => r.addr === addr)!.id }));
      const { hashes, clientPorts } = await runTraffic(addrs, accounts);
      // A restart (directory load, anti-entropy), then kill -9 to leave a WAL behind.
      await devnet.restart(3);
      await devnet.converge(6, 90_000);
      await devnet.nodes[4]!.stop("SIGKILL");
      await devnet.stop();

      const files = await filesUnder(baseDir);
      assert(files.some((f) => f.path.endsWith("relay.db-wal")), "A WAL was left to search");
      const logs = files.filter((f) => f.path.endsWith("/node.log"));
      assertEquals(logs.length, 6);
      for (const account of accounts) {
        assertAbsent(files, "an account key", account.publicKey);
        const key = swarmKeyOf(account.publicKey);
        // The swarm key is relay.db's index, so it may be there raw, and nowhere else.
        assertAbsent(files, "a swarm key", key, { exceptRaw: isDbFile });
        assert(
          files.some((f) => isDbFile(f.path) && indexOfBytes(f.bytes, key) >= 0),
          "Control: the DB holds swarm keys",
        );
      }
      for (const hash of hashes) {
        const raw = new Uint8Array(hash.match(/../g)!.map((h) => parseInt(h, 16)));
        assertAbsent(files, "an item hash", raw, { exceptRaw: isDbFile });
      }
      for (const db of files.filter((f) => isDbFile(f.path))) {
        assert(indexOfBytes(db.bytes, utf8("127.0.0.1")) < 0, `${db.path} holds an IP`);
      }
      checkLogs(logs, { nodes, clientPorts });
      for (const node of devnet.nodes) await checkSchema(`${node.dataDir}/relay.db`);
    } finally {
      await devnet.stop();
      await Deno.remove(baseDir, { recursive: true });
    }
  },
});

/** Each node's log names no other node, no client port, no IP, no time, outside its own banner. */
function checkLogs(
  logs: { path: string; bytes: Uint8Array }[],
  known: { nodes: { addr: string; id: string }[]; clientPorts: number[] },
): void {
  for (const log of logs) {
    const index = Number(/node-(\d+)\/node\.log$/.exec(log.path)![1]) - 1;
    const own = known.nodes[index]!;
    const lines = new TextDecoder().decode(log.bytes).split("\n").filter((l) => l !== "");
    // The start-up banner (main.ts) may name this node's own address and ID.
    const isBanner = (line: string) => line.startsWith("hearth");
    assert(lines.some((l) => isBanner(l) && l.includes(own.addr)), `Control: ${log.path} banner`);
    for (const line of lines) {
      const where = `${log.path}: ${JSON.stringify(line)}`;
      for (const node of known.nodes) {
        const port = node.addr.split(":")[1]!;
        if (node === own && isBanner(line)) continue;
        assert(!new RegExp(`(?<![0-9])${port}(?![0-9])`).test(line), `${where} names port ${port}`);
        assert(!line.includes(node.id.slice(0, 12)), `${where} names a node`);
      }
      for (const port of known.clientPorts) {
        assert(
          !new RegExp(`(?<![0-9])${port}(?![0-9])`).test(line),
          `${where} names a client port`,
        );
      }
      if (isBanner(line)) continue;
      assert(!/127\.0\.0\.1|\d+\.\d+\.\d+\.\d+|localhost|::1/.test(line), `${where} names an IP`);
      assert(!/\d{10,}/.test(line), `${where} holds a timestamp or a long number`);
      assert(!/[0-9a-f]{12,}/i.test(line), `${where} holds hex`);
      assert(
        /^(DEBUG|INFO|WARN|ERROR) [a-z.-]+ [a-z0-9_.-]+( [a-zA-Z0-9_]+=([0-9.e+-]+|true|false))*$/
          .test(line),
        `${where} is not a logger line`,
      );
    }
  }
}

/** relay.db has exactly the tables and columns of DESIGN §5. */
async function checkSchema(path: string): Promise<void> {
  const allowed: Record<string, string[]> = {
    items: ["seq", "hash", "key", "ns", "expiry", "data"],
    deleted: ["hash", "expiry"],
    schema_version: ["version"],
    sqlite_sequence: ["name", "seq"],
  };
  const db = createClient({ url: `file:${path}` });
  try {
    const tables = await db.execute(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    );
    const names = tables.rows.map((r) => String(r.name));
    assertEquals(names, Object.keys(allowed).sort(), `${path} tables`);
    for (const name of names) {
      const info = await db.execute(`PRAGMA table_info(${name})`);
      assertEquals(info.rows.map((r) => String(r.name)), allowed[name], `${path} ${name} columns`);
    }
    const views = await db.execute(
      "SELECT name FROM sqlite_master WHERE type IN ('view', 'trigger')",
    );
    assertEquals(views.rows.length, 0, `${path} views and triggers`);
  } finally {
    db.close();
  }
}
