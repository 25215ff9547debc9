/**
 * Many accounts on one devnet: a fixture that starts a devnet of real node
 * processes (or takes one), creates `count` in-process {@link Messenger}s,
 * each with its own data folder and account, all reading one shared
 * snapshot of the live directory (refreshed every few seconds), and closes
 * everything at the end, bounded. A 2-core machine cannot run 100 node
 * processes; 100 messengers in one process talk to the swarms through
 * onion paths exactly as a node's own messenger does.
 *
 * The fixture also meters what the messengers cost: the test process's
 * RSS and CPU, the node processes' CPU, and the onion requests the
 * messengers send (counted by wrapping the global `fetch` while the
 * fixture runs).
 *
 * Run alone as a check of the harness (100 accounts, what they cost idle,
 * then 1:1 messaging between two of them): `deno run -A tests/many_accounts.ts [count]`.
 * @module
 */
import { Messenger } from "../src/client/messenger.ts";
import type { LogFields, Logger } from "../src/shared/log.ts";
import type { NodeRecord } from "../src/shared/node_record.ts";
import { cpuMs, pidsUnder } from "../bench/process_metrics.ts";
import { type Devnet, startDevnet, waitFor } from "../tools/devnet_lib.ts";
import { directoryOf } from "./network_client.ts";
import { assert, assertEquals } from "./assert.ts";

/** Small scrypt parameters (1 MiB), as the vault's tests use. */
export const FIXTURE_KDF = { N: 1024, r: 8, p: 1 };

/** The passphrase of every fixture account. */
export const FIXTURE_PASS = "many accounts passphrase";

/** One in-process account of the fixture. */
export interface FixtureAccount {
  /** Its position, 0-based. */
  index: number;
  /** Its Account ID. */
  accountId: string;
  /** The open, unlocked messenger. */
  messenger: Messenger;
  /** Its data folder. */
  dataDir: string;
  /** Log events this messenger emitted, by `component event` (e.g. "chat.prekeys prekeys_published"). */
  events: Map<string, number>;
}

/** What the messengers sent through their onion paths since a mark. */
export interface Traffic {
  /** Onion requests (POST /v1/onion to a guard). */
  requests: number;
  /** Bytes of their request bodies. */
  bytesOut: number;
}

/** CPU time used since a mark, ms. */
export interface CpuUse {
  /** Wall time of the window, ms. */
  wallMs: number;
  /** The test process (the messengers). */
  selfMs: number;
  /** All node processes of the devnet. */
  nodesMs: number;
}

/** What {@link withAccounts} hands to its function. */
export interface AccountsFixture {
  /** The devnet. */
  devnet: Devnet;
  /** The accounts, in creation order. */
  accounts: FixtureAccount[];
  /** The shared directory snapshot every messenger reads. */
  nodes: () => NodeRecord[];
  /** Refresh the snapshot now. */
  refresh(): Promise<void>;
  /** How long creating the accounts took, ms (open + createAccount, in parallel). */
  createMs: number;
  /** Onion requests so far (since the fixture started). */
  traffic(): Traffic;
  /** Start a CPU window; the function it returns ends it. */
  cpuWindow(): Promise<() => Promise<CpuUse>>;
  /** Resident memory of the test process, MiB. */
  rssMiB(): number;
  /** Print a line (the fixture's `log` option; console.log by default). */
  log(line: string): void;
}

/** Options of {@link withAccounts}. */
export interface WithAccountsOptions {
  /** Use this devnet instead of starting one (it is left running). */
  devnet?: Devnet;
  /** Node processes of the devnet started when none is given (default 7). */
  nodeCount?: number;
  /** Accounts created at the same time (default 8). */
  concurrency?: number;
  /** How often the directory snapshot is refreshed, ms (default 5,000). */
  refreshMs?: number;
  /** Temporary folder prefix (default "hearth-accounts-"). */
  prefix?: string;
  /** Where the temporary folder goes (default: the system's). */
  tmpDir?: string;
  /** Where progress lines go (default console.log). */
  log?: (line: string) => void;
  /** Display name of account i (default "Account i"). */
  displayName?: (index: number) => string;
}

/** How long closing one messenger may take before the fixture moves on, ms. */
const CLOSE_TIMEOUT_MS = 20_000;

/**
 * Run `fn(items[i])` for every item, at most `limit` at a time.
 * @returns the results in the items' order
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A logger that only counts events into `events` (no line is printed). */
function countingLogger(events: Map<string, number>, component = ""): Logger {
  const count = (event: string, _fields?: LogFields) => {
    const key = `${component} ${event}`;
    events.set(key, (events.get(key) ?? 0) + 1);
  };
  return {
    debug: count,
    info: count,
    warn: count,
    error: count,
    child: (c) => countingLogger(events, component ? `${component}.${c}` : c),
  };
}

/** Count the onion requests made through the global fetch until `restore()`. */
function meterFetch(): { traffic: () => Traffic; restore: () => void } {
  const original = globalThis.fetch;
  const totals: Traffic = { requests: 0, bytesOut: 0 };
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url.endsWith("/v1/onion")) {
      totals.requests++;
      const body = init?.body;
      if (body instanceof Uint8Array) totals.bytesOut += body.byteLength;
      else if (body instanceof ArrayBuffer) totals.bytesOut += body.byteLength;
    }
    return original(input, init);
  }) as typeof fetch;
  return {
    traffic: () => ({ ...totals }),
    restore: () => {
      globalThis.fetch = original;
    },
  };
}

/** Close a messenger, waiting at most {@link CLOSE_TIMEOUT_MS}. */
async function closeBounded(messenger: Messenger): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([
    messenger.close().then(() => true, () => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS)),
  ]);
  clearTimeout(timer);
  return closed;
}

/**
 * Run `fn` with `count` accounts on a devnet, then close every messenger
 * (bounded), stop the devnet when this started it, and remove the folders,
 * whatever `fn` did.
 * @param count accounts to create
 * @param fn the test body
 * @returns what `fn` returned
 */
export async function withAccounts<T>(
  count: number,
  fn: (fixture: AccountsFixture) => Promise<T>,
  options: WithAccountsOptions = {},
): Promise<T> {
  const log = options.log ?? ((line: string) => console.log(line));
  const baseDir = await Deno.makeTempDir({
    prefix: options.prefix ?? "hearth-accounts-",
    ...(options.tmpDir ? { dir: options.tmpDir } : {}),
  });
  const meter = meterFetch();
  let devnet = options.devnet;
  let ownDevnet = false;
  let refreshTimer: ReturnType<typeof setInterval> | undefined;
  const accounts: FixtureAccount[] = [];
  const opened: Messenger[] = [];
  try {
    if (!devnet) {
      const nodeCount = options.nodeCount ?? 7;
      const started = performance.now();
      devnet = await startDevnet(nodeCount, {
        baseDir: `${baseDir}/devnet`,
        gossipIntervalMs: 300,
      });
      ownDevnet = true;
      await devnet.converge(nodeCount, 90_000);
      log(`devnet of ${nodeCount} nodes up in ${Math.round(performance.now() - started)} ms`);
    }
    const net = devnet;
    let snapshot: NodeRecord[] = [];
    let turn = 0;
    const refresh = async () => {
      const live = net.nodes.filter((n) => !n.exited);
      if (live.length === 0) return;
      const node = live[turn++ % live.length]!;
      try {
        const records = await directoryOf(node.addr);
        if (records.length > 0) snapshot = records;
      } catch {
        // Keep the last snapshot; the next refresh asks another node.
      }
    };
    await refresh();
    assert(snapshot.length > 0, "the devnet's directory is empty");
    const refreshMs = options.refreshMs ?? 5_000;
    let refreshing = false;
    refreshTimer = setInterval(() => {
      if (refreshing) return;
      refreshing = true;
      refresh().finally(() => refreshing = false);
    }, refreshMs);
    const nodes = () => snapshot;

    const started = performance.now();
    const name = options.displayName ?? ((i: number) => `Account ${i}`);
    const created = await mapLimit(
      Array.from({ length: count }, (_, i) => i),
      options.concurrency ?? 8,
      async (i) => {
        const dataDir = `${baseDir}/account-${i}`;
        const events = new Map<string, number>();
        const messenger = await Messenger.open(dataDir, {
          kdfParams: FIXTURE_KDF,
          nodes,
          log: countingLogger(events),
        });
        opened.push(messenger);
        const { accountId } = await messenger.createAccount({
          passphrase: FIXTURE_PASS,
          displayName: name(i),
        });
        return { index: i, accountId, messenger, dataDir, events };
      },
    );
    accounts.push(...created);
    const createMs = performance.now() - started;
    log(
      `${count} accounts created in ${Math.round(createMs)} ms ` +
        `(${Math.round(createMs / Math.max(count, 1))} ms each, concurrency ${
          options.concurrency ?? 8
        }); RSS ${Math.round(Deno.memoryUsage().rss / 2 ** 20)} MiB`,
    );
    const cpuWindow = async () => {
      const pids = await pidsUnder(net.baseDir);
      const sum = async () => {
        const values = await Promise.all(pids.map((p) => cpuMs(p)));
        return values.reduce<number>((a, b) => a + (b ?? 0), 0);
      };
      const t0 = performance.now();
      const self0 = (await cpuMs(Deno.pid)) ?? 0;
      const nodes0 = await sum();
      return async () => ({
        wallMs: performance.now() - t0,
        selfMs: ((await cpuMs(Deno.pid)) ?? 0) - self0,
        nodesMs: (await sum()) - nodes0,
      });
    };
    return await fn({
      devnet: net,
      accounts,
      nodes,
      refresh,
      createMs,
      traffic: meter.traffic,
      cpuWindow,
      rssMiB: () => Deno.memoryUsage().rss / 2 ** 20,
      log,
    });
  } finally {
    clearInterval(refreshTimer);
    const started = performance.now();
    const closed = await mapLimit(opened, 16, closeBounded);
    const stuck = closed.filter((c) => !c).length;
    log(
      `closed ${opened.length} messengers in ${Math.round(performance.now() - started)} ms` +
        (stuck ? ` (${stuck} did not close within ${CLOSE_TIMEOUT_MS} ms)` : ""),
    );
    meter.restore();
    if (ownDevnet) await devnet?.stop();
    await Deno.remove(baseDir, { recursive: true }).catch(() => {});
  }
}

/**
 * Make two fixture accounts contacts: `a` writes to `b`, `b` accepts the
 * request and replies, and `a` gets the reply.
 * @param timeoutMs how long each step may take
 */
export async function makeContacts(
  a: FixtureAccount,
  b: FixtureAccount,
  timeoutMs = 60_000,
): Promise<void> {
  const wait = { timeoutMs, intervalMs: 200 };
  const hello = `hello from ${a.index}`;
  await a.messenger.chat().send(b.accountId, hello);
  await waitFor(async () => {
    const requests = await b.messenger.chat().requests();
    return requests.some((r) => r.accountId === a.accountId);
  }, { ...wait, what: `account ${b.index}'s request from account ${a.index}` });
  await b.messenger.chat().decide(a.accountId, "accept");
  const reply = `hi ${a.index}, from ${b.index}`;
  await b.messenger.chat().send(a.accountId, reply);
  await waitFor(async () => {
    const mine = await a.messenger.chat().messages(b.accountId);
    return mine.some((m) => m.direction === "in" && m.text === reply);
  }, { ...wait, what: `account ${a.index} getting ${b.index}'s reply` });
}

/**
 * When each account first saw each message (by id) of one conversation,
 * from its chat's `message` events; {@link MessageWatch.stop} ends the loops.
 */
export class MessageWatch {
  readonly #seen: Map<string, number>[];
  readonly #subs: ReturnType<ReturnType<Messenger["chat"]>["events"]>[];
  readonly #loops: Promise<void>[];

  /**
   * Watch `conversationId` on every account.
   * @param accounts the accounts to watch
   * @param conversationId a Group ID or a peer's Account ID
   */
  constructor(accounts: readonly FixtureAccount[], conversationId: string) {
    this.#seen = accounts.map(() => new Map());
    this.#subs = accounts.map((a) => a.messenger.chat().events({ maxQueue: 4_096 }));
    this.#loops = this.#subs.map(async (sub, i) => {
      while (true) {
        const event = await sub.next(1_000);
        if (event === undefined) return;
        if (event === "idle" || event.type !== "message") continue;
        if (event.message.conversationId !== conversationId) continue;
        if (!this.#seen[i]!.has(event.message.id)) {
          this.#seen[i]!.set(event.message.id, performance.now());
        }
      }
    });
  }

  /** When account `index` first saw message `id` (performance.now()), or undefined. */
  seenAt(index: number, id: string): number | undefined {
    return this.#seen[index]?.get(id);
  }

  /** Which of `indexes` have not seen message `id` yet. */
  missing(indexes: readonly number[], id: string): number[] {
    return indexes.filter((i) => !this.#seen[i]!.has(id));
  }

  /**
   * Wait until every account of `indexes` saw message `id`.
   * @returns the last arrival time (performance.now())
   * @throws {Error} after `timeoutMs`, naming how many are missing
   */
  async all(indexes: readonly number[], id: string, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (this.missing(indexes, id).length > 0) {
      if (performance.now() > deadline) {
        const missing = this.missing(indexes, id);
        throw new Error(
          `message ${id} missing on ${missing.length} of ${indexes.length} accounts after ` +
            `${timeoutMs} ms (e.g. ${missing.slice(0, 8).join(", ")})`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return Math.max(...indexes.map((i) => this.#seen[i]!.get(id)!));
  }

  /** End every subscription and wait for the loops. */
  async stop(): Promise<void> {
    for (const sub of this.#subs) sub.close();
    await Promise.all(this.#loops);
  }
}

/** What {@link formGroup} measured, ms. */
export interface GroupFormed {
  /** The Group ID. */
  groupId: string;
  /** `create` (the state stored, 1:1 invitations queued). */
  createMs: number;
  /** From create until every member saw its invitation. */
  invitedMs: number;
  /** From create until every member joined and knew every member (had the state and key). */
  readyMs: number;
}

/**
 * Account `admin` creates a group with `members` (indexes); every member
 * waits for its invitation, joins, and waits for the group's state
 * (all members known, so it holds the key).
 * @param timeoutMs how long the invitations, and then the state, may take each
 */
export async function formGroup(
  fx: AccountsFixture,
  admin: number,
  members: readonly number[],
  options: { name?: string; timeoutMs?: number } = {},
): Promise<GroupFormed> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const wait = { timeoutMs, intervalMs: 500 };
  const t0 = performance.now();
  const group = await fx.accounts[admin]!.messenger.groups().create(
    options.name ?? "Hundred",
    members.map((i) => fx.accounts[i]!.accountId),
  );
  const createMs = performance.now() - t0;
  const size = members.length + 1;
  let invitedMs = 0;
  await mapLimit(members, members.length, async (i) => {
    const groups = fx.accounts[i]!.messenger.groups();
    await waitFor(
      async () => (await groups.list()).some((g) => g.id === group.id),
      { ...wait, what: `account ${i}'s invitation` },
    );
    invitedMs = Math.max(invitedMs, performance.now() - t0);
    await groups.join(group.id);
  });
  await mapLimit([admin, ...members], size, async (i) => {
    const groups = fx.accounts[i]!.messenger.groups();
    await waitFor(
      async () => (await groups.get(group.id)).memberCount === size,
      { ...wait, what: `account ${i} knowing the group's ${size} members` },
    );
  });
  return { groupId: group.id, createMs, invitedMs, readyMs: performance.now() - t0 };
}

/**
 * Send a text to a group from account `from` and time its fan-in: until
 * every account of `to` saw it (from `watch`).
 * @returns the message id and the fan-in time, ms
 */
export async function timedGroupSend(
  fx: AccountsFixture,
  watch: MessageWatch,
  groupId: string,
  from: number,
  to: readonly number[],
  text: string,
  timeoutMs = 120_000,
): Promise<{ id: string; fanInMs: number; firstMs: number }> {
  const t0 = performance.now();
  const sent = await fx.accounts[from]!.messenger.groups().send(groupId, { text });
  let last: number;
  try {
    last = await watch.all(to, sent.id, timeoutMs);
  } catch (err) {
    fx.log(await describeGroup(fx, groupId, watch.missing(to, sent.id)));
    throw err;
  }
  const first = Math.min(...to.map((i) => watch.seenAt(i, sent.id)!));
  return { id: sent.id, fanInMs: last - t0, firstMs: first - t0 };
}

/**
 * What some accounts know of a group, for a failure's message: state,
 * member count, the sender's status of their last message, and their group
 * and failure log events.
 */
export async function describeGroup(
  fx: AccountsFixture,
  groupId: string,
  indexes: readonly number[],
): Promise<string> {
  const lines = await Promise.all(indexes.map(async (i) => {
    const a = fx.accounts[i]!;
    let view = "?";
    try {
      const g = await a.messenger.groups().get(groupId);
      view = `${g.state}/${g.memberCount}`;
    } catch (err) {
      view = String(err);
    }
    const events = [...a.events].filter(([k]) => /group|fail|error/i.test(k));
    return `  account ${i}: ${view} ${JSON.stringify(events)}`;
  }));
  return [`group ${groupId}, ${indexes.length} accounts:`, ...lines].join("\n");
}

/** Events counted over all accounts, largest first. */
export function eventTotals(accounts: readonly FixtureAccount[]): [string, number][] {
  const totals = new Map<string, number>();
  for (const a of accounts) {
    for (const [k, v] of a.events) totals.set(k, (totals.get(k) ?? 0) + v);
  }
  return [...totals].sort((x, y) => y[1] - x[1]);
}

/** What {@link checkHarness} measured. */
export interface HarnessReport {
  /** Accounts created. */
  accounts: number;
  /** Creating them, ms. */
  createMs: number;
  /** RSS of the process right after creating them, MiB. */
  rssAfterCreateMiB: number;
  /** Until every account's prekey bundle was published, ms after creation. */
  prekeysMs: number;
  /** Idle window: the test process's CPU, ms per second. */
  idleSelfCpuMsPerSec: number;
  /** Idle window: all node processes' CPU, ms per second. */
  idleNodesCpuMsPerSec: number;
  /** Idle window: onion requests per second (all messengers). */
  idleOnionPerSec: number;
  /** 1:1 request, accept and reply between two accounts, ms. */
  oneToOneMs: number;
  /** RSS at the end, MiB. */
  rssEndMiB: number;
}

/**
 * Check the harness: `count` accounts, what they cost idle, and 1:1
 * messaging (a request, accept, a reply, both in sessions) between two of them.
 * @param options.idleMs the idle window (default 15 s)
 */
export function checkHarness(
  count: number,
  options: WithAccountsOptions & { idleMs?: number } = {},
): Promise<HarnessReport> {
  return withAccounts(count, async (fx) => {
    const rssAfterCreateMiB = fx.rssMiB();
    // Every account published its prekey bundle (so 1:1 texts start sessions).
    const t0 = performance.now();
    await waitFor(
      () => fx.accounts.every((a) => a.events.has("chat.prekeys prekeys_published")),
      { timeoutMs: 120_000, intervalMs: 250, what: "every account's prekeys published" },
    );
    const prekeysMs = performance.now() - t0;
    fx.log(`all prekey bundles published after ${Math.round(prekeysMs)} ms`);

    // What idle messengers cost.
    const traffic0 = fx.traffic();
    const end = await fx.cpuWindow();
    await new Promise((r) => setTimeout(r, options.idleMs ?? 15_000));
    const cpu = await end();
    const traffic1 = fx.traffic();
    const seconds = cpu.wallMs / 1000;
    const idle = {
      self: cpu.selfMs / seconds,
      nodes: cpu.nodesMs / seconds,
      onion: (traffic1.requests - traffic0.requests) / seconds,
      kib: (traffic1.bytesOut - traffic0.bytesOut) / seconds / 1024,
    };
    fx.log(
      `idle ${Math.round(seconds)} s: test process CPU ${Math.round(idle.self)} ms/s, ` +
        `node processes CPU ${Math.round(idle.nodes)} ms/s (sum), onion requests ` +
        `${idle.onion.toFixed(1)}/s, ${Math.round(idle.kib)} KiB/s out`,
    );

    const [a, b] = [fx.accounts[Math.min(3, count - 2)]!, fx.accounts[count - 1]!];
    const started = performance.now();
    await makeContacts(a, b);
    const oneToOneMs = performance.now() - started;
    fx.log(`1:1 request, accept and reply in ${Math.round(oneToOneMs)} ms`);
    const mine = await a.messenger.chat().messages(b.accountId);
    assertEquals(mine.map((m) => m.text), [
      `hello from ${a.index}`,
      `hi ${a.index}, from ${b.index}`,
    ]);
    assertEquals(mine.map((m) => m.encryption), ["session", "session"]);
    const totals = eventTotals(fx.accounts);
    fx.log(`events: ${JSON.stringify(totals.slice(0, 12))}`);
    const failures = totals.filter(([k]) => /fail|error|timeout/i.test(k));
    if (failures.length) fx.log(`failure events: ${JSON.stringify(failures)}`);
    return {
      accounts: count,
      createMs: Math.round(fx.createMs),
      rssAfterCreateMiB: Math.round(rssAfterCreateMiB),
      prekeysMs: Math.round(prekeysMs),
      idleSelfCpuMsPerSec: Math.round(idle.self),
      idleNodesCpuMsPerSec: Math.round(idle.nodes),
      idleOnionPerSec: Math.round(idle.onion * 10) / 10,
      oneToOneMs: Math.round(oneToOneMs),
      rssEndMiB: Math.round(fx.rssMiB()),
    };
  }, options);
}

// `deno run -A tests/many_accounts.ts [count]`: check the harness and print what it measured.
if (import.meta.main) {
  const count = Number(Deno.args[0] ?? 100);
  const report = await checkHarness(count);
  console.log(JSON.stringify(report, null, 2));
  Deno.exit(0);
}
