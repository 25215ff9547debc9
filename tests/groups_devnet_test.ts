/**
 * A group of 100 accounts on a devnet of 7 real node processes: the
 * accounts are in-process messengers (tests/many_accounts.ts), each with
 * its own data folder, all speaking to the swarms through onion paths.
 * Account 0 creates the group with 99 others; all 99 join once their
 * invitation arrives; a message from the creator and one from another
 * member reach all 100; a 101st member is refused (`group_full`); a
 * removed member gets no new message while the others do.
 */
import { assert, assertEquals } from "./assert.ts";
import { HearthError } from "../src/shared/errors.ts";
import { waitFor } from "../tools/devnet_lib.ts";
import { formGroup, MessageWatch, timedGroupSend, withAccounts } from "./many_accounts.ts";

const MEMBERS = 100;
/** Every step's limit: generous for a slow, noisy 2-core machine, still bounded. */
const STEP_MS = 180_000;

Deno.test({
  name: "a group of 100 accounts on a devnet: messages reach all, the 101st is refused",
  // Node processes, sockets and long-polls outlive single ops; the fixture closes them.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withAccounts(MEMBERS + 1, async (fx) => {
      const everyone = Array.from({ length: MEMBERS }, (_, i) => i);
      const others = everyone.slice(1);
      const outsider = MEMBERS; // account 100, the 101st
      const formed = await formGroup(fx, 0, others, { name: "The hundred", timeoutMs: STEP_MS });
      const id = formed.groupId;
      fx.log(
        `group of ${MEMBERS}: create ${Math.round(formed.createMs)} ms, all invited after ` +
          `${Math.round(formed.invitedMs)} ms, all joined with the state after ` +
          `${Math.round(formed.readyMs)} ms`,
      );
      const watch = new MessageWatch(fx.accounts, id);
      try {
        // From the creator, then from another member: all 100 have each.
        const first = await timedGroupSend(fx, watch, id, 0, others, "hello hundred", STEP_MS);
        fx.log(`creator's message on all 99 others after ${Math.round(first.fanInMs)} ms`);
        const sender = 42;
        const second = await timedGroupSend(
          fx,
          watch,
          id,
          sender,
          everyone.filter((i) => i !== sender),
          "hi from 42",
          STEP_MS,
        );
        fx.log(`member's message on all 99 others after ${Math.round(second.fanInMs)} ms`);
        for (const i of [0, 1, 57, MEMBERS - 1]) {
          const texts = (await fx.accounts[i]!.messenger.chat().messages(id)).map((m) => m.text);
          assertEquals(texts, ["hello hundred", "hi from 42"], `account ${i}`);
        }
        const view = await fx.accounts[0]!.messenger.groups().get(id);
        assertEquals(view.memberCount, MEMBERS);

        // The 101st is refused.
        let refused: unknown;
        try {
          await fx.accounts[0]!.messenger.groups().addMember(id, fx.accounts[outsider]!.accountId);
        } catch (err) {
          refused = err;
        }
        assert(refused instanceof HearthError, `expected group_full, got ${refused}`);
        assertEquals(refused.code, "group_full");
        assertEquals((await fx.accounts[outsider]!.messenger.groups().list()).length, 0);

        // A removed member gets nothing new; the others do.
        const removed = 77;
        const t0 = performance.now();
        await fx.accounts[0]!.messenger.groups().removeMember(id, fx.accounts[removed]!.accountId);
        const remaining = others.filter((i) => i !== removed);
        const after = await timedGroupSend(fx, watch, id, 0, remaining, "without 77", STEP_MS);
        fx.log(
          `after removing one: message on the other 98 after ${Math.round(after.fanInMs)} ms ` +
            `(${Math.round(performance.now() - t0)} ms from the removal)`,
        );
        for (const i of [0, 1, MEMBERS - 1]) {
          const groups = fx.accounts[i]!.messenger.groups();
          await waitFor(async () => (await groups.get(id)).memberCount === MEMBERS - 1, {
            timeoutMs: STEP_MS,
            intervalMs: 250,
            what: `account ${i} seeing ${MEMBERS - 1} members`,
          });
        }
        // Give the removed member's poller time it would need to see it.
        await new Promise((r) => setTimeout(r, 5_000));
        assertEquals(watch.seenAt(removed, after.id), undefined);
        const theirs = (await fx.accounts[removed]!.messenger.chat().messages(id))
          .map((m) => m.text);
        assert(!theirs.includes("without 77"), `account ${removed} got "without 77"`);
        assertEquals(theirs, ["hello hundred", "hi from 42"]);
      } finally {
        await watch.stop();
      }
    }, { prefix: "hearth-groups-devnet-" });
  },
});
