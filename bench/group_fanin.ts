/**
 * Group message fan-in on a devnet: a group of 100 accounts (in-process
 * messengers, each with its own data folder, on a devnet of 7 real node
 * processes; tests/many_accounts.ts), and the time from a member's
 * `groups().send` until every one of the 99 others has the message
 * (its `message` event, stored in its client database). One warm-up send,
 * then several timed ones from different members: median, min and max.
 * Alongside: creating the accounts, forming the group (invitations through
 * 1:1 sessions, joins, state fetches), and the CPU the sends cost.
 *
 * All 99 recipients share this process's one JavaScript thread: each
 * opens, checks and stores the message in turn, so the fan-in measured
 * here is an upper bound of what 99 separate nodes would see (the first
 * arrival shows the network's part).
 *
 * Alone: `deno run -A bench/group_fanin.ts [members] [sends]`.
 * @module
 */
import { median, round } from "./stats.ts";
import { formGroup, MessageWatch, timedGroupSend, withAccounts } from "../tests/many_accounts.ts";

/** What {@link measureGroupFanIn} measured. */
export interface GroupFanInResult {
  /** Accounts in the group, the sender included. */
  members: number;
  /** Node processes of the devnet. */
  nodes: number;
  /** Creating the accounts (8 at a time), ms. */
  createAccountsMs: number;
  /** RSS of the process holding every messenger, after the group formed, MiB. */
  rssMiB: number;
  /** `create` on the admin (state stored, invitations queued), ms. */
  groupCreateMs: number;
  /** From create until every member had its invitation, ms. */
  allInvitedMs: number;
  /** From create until every member had joined and fetched the state, ms. */
  allReadyMs: number;
  /** Timed sends (after one warm-up). */
  sends: number;
  /** Send until all the others have it, ms, each timed send. */
  fanInMs: number[];
  /** Median, min and max of {@link fanInMs}. */
  fanIn: { medianMs: number; minMs: number; maxMs: number };
  /** Send until the first of the others has it, ms, each timed send (the fan-in's reference). */
  firstArrivalMs: number[];
  /** Median of {@link firstArrivalMs}. */
  firstArrivalMedianMs: number;
  /** CPU during the timed sends, ms per send: the process of the messengers, and all nodes. */
  cpuPerSend: { messengersMs: number; nodesMs: number };
  /** Onion requests the messengers sent during the timed sends, per send. */
  onionRequestsPerSend: number;
}

/** Options of {@link measureGroupFanIn}. */
export interface GroupFanInOptions {
  /** Where the temporary folder goes (the caller's, so its clean-up finds the nodes). */
  tmpDir?: string;
  /** Accounts in the group (default 100). */
  members?: number;
  /** Timed sends (default 5). */
  sends?: number;
  /** Node processes (default 7). */
  nodes?: number;
  /** Each step's limit, ms (default 180,000). */
  stepTimeoutMs?: number;
  /** Called with each step's name as it starts. */
  onProgress?: (step: string) => void;
}

/** Pause between sends, so that each is measured alone, ms. */
const GAP_MS = 1_000;

/**
 * Measure group fan-in (see the module's doc).
 * @returns the measurements
 */
export function measureGroupFanIn(options: GroupFanInOptions = {}): Promise<GroupFanInResult> {
  const members = options.members ?? 100;
  const sends = options.sends ?? 5;
  const nodes = options.nodes ?? 7;
  const stepMs = options.stepTimeoutMs ?? 180_000;
  const progress = options.onProgress ?? (() => {});
  progress(`${members} accounts`);
  return withAccounts(members, async (fx) => {
    const everyone = Array.from({ length: members }, (_, i) => i);
    progress(`a group of ${members}: create, invitations, joins`);
    const formed = await formGroup(fx, 0, everyone.slice(1), {
      name: "Fan-in",
      timeoutMs: stepMs,
    });
    const watch = new MessageWatch(fx.accounts, formed.groupId);
    try {
      progress(`${sends} timed sends after a warm-up`);
      const othersOf = (sender: number) => everyone.filter((i) => i !== sender);
      await timedGroupSend(fx, watch, formed.groupId, 0, othersOf(0), "warm-up", stepMs);
      const traffic0 = fx.traffic();
      const endCpu = await fx.cpuWindow();
      const fanInMs: number[] = [];
      const firstMs: number[] = [];
      for (let s = 0; s < sends; s++) {
        // The admin first, then members spread over the group.
        const sender = s === 0 ? 0 : Math.floor((s * members) / sends) % members;
        await new Promise((r) => setTimeout(r, GAP_MS));
        const r = await timedGroupSend(
          fx,
          watch,
          formed.groupId,
          sender,
          othersOf(sender),
          `fan-in ${s}`,
          stepMs,
        );
        fanInMs.push(Math.round(r.fanInMs));
        firstMs.push(Math.round(r.firstMs));
      }
      const cpu = await endCpu();
      const traffic = fx.traffic();
      return {
        members,
        nodes: fx.devnet.nodes.length,
        createAccountsMs: Math.round(fx.createMs),
        rssMiB: Math.round(fx.rssMiB()),
        groupCreateMs: Math.round(formed.createMs),
        allInvitedMs: Math.round(formed.invitedMs),
        allReadyMs: Math.round(formed.readyMs),
        sends,
        fanInMs,
        fanIn: {
          medianMs: Math.round(median(fanInMs)),
          minMs: Math.min(...fanInMs),
          maxMs: Math.max(...fanInMs),
        },
        firstArrivalMs: firstMs,
        firstArrivalMedianMs: Math.round(median(firstMs)),
        // The window also holds the gaps: idle long-polls are a small part of it.
        cpuPerSend: {
          messengersMs: Math.round(cpu.selfMs / sends),
          nodesMs: Math.round(cpu.nodesMs / sends),
        },
        onionRequestsPerSend: round((traffic.requests - traffic0.requests) / sends),
      };
    } finally {
      await watch.stop();
    }
  }, {
    nodeCount: nodes,
    prefix: "hearth-fanin-",
    log: (line) => progress(line),
    ...(options.tmpDir ? { tmpDir: options.tmpDir } : {}),
  });
}

/**
 * The report's lines for a {@link GroupFanInResult}: a heading, a table, a note.
 * @param table the report's table formatter (report.ts `formatTable`; passed in, so that
 *   report.ts can import this module without an import cycle)
 * @param section the section's number in the report
 */
export function renderGroupFanIn(
  r: GroupFanInResult,
  table: (header: string[], rows: string[][]) => string[],
  section = "8",
): string[] {
  const ms = (v: number) => String(Math.round(v));
  return [
    "",
    `${section}. Group message fan-in: a group of ${r.members} in-process accounts on a devnet ` +
    `of ${r.nodes} node processes, send to all ${r.members - 1} others having it`,
    ...table(["step", "ms"], [
      [`create ${r.members} accounts (8 at a time)`, ms(r.createAccountsMs)],
      ["create the group (state stored, invitations queued)", ms(r.groupCreateMs)],
      ["create until every member had its invitation", ms(r.allInvitedMs)],
      ["create until every member joined and had the state", ms(r.allReadyMs)],
      [
        `fan-in, median of ${r.sends} sends (min / max: ${ms(r.fanIn.minMs)} / ${
          ms(r.fanIn.maxMs)
        })`,
        ms(r.fanIn.medianMs),
      ],
      ["send until the first member has it (median)", ms(r.firstArrivalMedianMs)],
    ]),
    `per send: ${r.onionRequestsPerSend} onion requests, CPU ${r.cpuPerSend.messengersMs} ms ` +
    `(messengers) + ${r.cpuPerSend.nodesMs} ms (nodes); ${r.members} messengers hold ` +
    `${r.rssMiB} MiB RSS`,
  ];
}

if (import.meta.main) {
  const result = await measureGroupFanIn({
    members: Number(Deno.args[0] ?? 100),
    sends: Number(Deno.args[1] ?? 5),
    onProgress: (step) => console.error(`group fan-in: ${step}`),
  });
  const { formatTable } = await import("./report.ts");
  console.log(renderGroupFanIn(result, formatTable).join("\n"));
  console.log(JSON.stringify(result, null, 2));
  Deno.exit(0);
}
