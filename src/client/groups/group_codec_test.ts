/**
 * Group crypto and codecs with real keys: Group IDs, access grants, the
 * signed state record and group messages round-trip, and every tampering
 * (or a forgery signed by anyone but the group key) is refused.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../../tests/assert.ts";
import { generateSigningKeyPair, randomBytes } from "../../shared/crypto/mod.ts";
import { MAX_ITEM_BYTES } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { accountKeysFromSeed, createSeed } from "../account/mod.ts";
import { grantAccess, groupSwarmKey, verifyAccess } from "./group_access.ts";
import { formatGroupId, looksLikeGroupId, normalizeGroupId, parseGroupId } from "./group_id.ts";
import {
  GROUP_MESSAGE_SIZES,
  groupMessageGeneration,
  MAX_GROUP_CONTENT_BYTES,
  openGroupMessage,
  sealGroupMessage,
} from "./group_message.ts";
import {
  type GroupInfo,
  MAX_GROUP_MEMBERS,
  MAX_REVOKED,
  openState,
  sealState,
  stateRecordBytes,
} from "./group_state.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function account() {
  return await accountKeysFromSeed(createSeed());
}

Deno.test("group id: round trip, checksum, prefix and case are checked", async () => {
  const g = await generateSigningKeyPair();
  const id = formatGroupId(g.publicKey);
  assert(id.startsWith("hearthg1") && id.length === 66);
  assertEquals(parseGroupId(id), g.publicKey);
  assertEquals(normalizeGroupId(` ${id.toUpperCase()} `), id);
  assert(looksLikeGroupId(id) && !looksLikeGroupId("hearth1abc"));
  const flipped = id.slice(0, 20) + (id[20] === "q" ? "p" : "q") + id.slice(21);
  for (
    const bad of [
      flipped,
      id.slice(0, 65),
      id.replace("hearthg1", "hearthx1"),
      "x",
      id[0]!.toUpperCase() + id.slice(1),
    ]
  ) {
    const err = assertThrows(() => parseGroupId(bad), HearthError);
    assertEquals(err.code, "bad_request");
  }
  assertThrows(
    () => parseGroupId(formatGroupId(g.publicKey).replace("hearthg", "hearth")),
    HearthError,
  );
});

Deno.test("access grants verify only for the group and the access key", async () => {
  const g = await generateSigningKeyPair();
  const other = await generateSigningKeyPair();
  const a = await grantAccess(g);
  assert(await verifyAccess(g.publicKey, a.publicKey, a.token));
  assert(!(await verifyAccess(other.publicKey, a.publicKey, a.token)));
  assert(!(await verifyAccess(g.publicKey, randomBytes(32), a.token)));
});

async function stateFixture(count: number, options: { picture?: boolean } = {}) {
  const g = await generateSigningKeyPair();
  const members = [];
  for (let i = 0; i < count; i++) members.push(await account());
  const info: GroupInfo = {
    name: "Ünïcode group 🔥".padEnd(60, "x"),
    members: members.map((m, i) => ({
      accountId: m.accountId,
      access: randomBytes(32),
      admin: i === 0,
    })),
    revoked: [],
    ...(options.picture
      ? { picture: { type: "image/png", bytes: new Uint8Array([...PNG, ...randomBytes(8_184)]) } }
      : {}),
  };
  const key = randomBytes(32);
  return { g, members, info, key };
}

Deno.test("state record: round trip, padded to blocks of 25, every member opens it", async () => {
  const { g, members, info, key } = await stateFixture(3);
  const record = await sealState(g, { seq: 7, generation: 2, info, key });
  assertEquals(record.length, stateRecordBytes(1));
  for (const m of members) {
    const out = await openState(record, g.publicKey, m.dh);
    assert(out.kind === "opened");
    assertEquals([out.seq, out.generation, out.key], [7, 2, key]);
    assertEquals(out.info.members.map((x) => x.accountId), info.members.map((x) => x.accountId));
    assertEquals(out.info.name, info.name);
  }
  const stranger = await account();
  const out = await openState(record, g.publicKey, stranger.dh);
  assertEquals(out.kind, "not_member");
});

Deno.test("state record: 100 members, a full picture and 100 revocations fit one item", async () => {
  const { g, members, info, key } = await stateFixture(MAX_GROUP_MEMBERS, { picture: true });
  info.revoked = Array.from({ length: MAX_REVOKED }, () => randomBytes(32));
  const record = await sealState(g, { seq: 1, generation: 1, info, key });
  assertEquals(record.length, stateRecordBytes(4));
  assert(record.length <= MAX_ITEM_BYTES);
  const out = await openState(record, g.publicKey, members[99]!.dh);
  assert(out.kind === "opened");
  assertEquals(out.info.picture?.bytes.length, 8_192);
  assertEquals(out.info.revoked.length, MAX_REVOKED);
});

Deno.test("state record: a 101st member is group_full", async () => {
  const { g, info, key } = await stateFixture(MAX_GROUP_MEMBERS);
  info.members.push({
    accountId: (await account()).accountId,
    access: randomBytes(32),
    admin: false,
  });
  const err = await assertRejects(
    () => sealState(g, { seq: 1, generation: 1, info, key }),
    HearthError,
  );
  assertEquals(err.code, "group_full");
});

Deno.test("state record: every tampered byte region, and a forgery by a member, are refused", async () => {
  const { g, members, info, key } = await stateFixture(2);
  const record = await sealState(g, { seq: 3, generation: 1, info, key });
  const member = members[1]!;
  // Flip one bit at the start, in the head, in the wrapped keys, in the info, in the signature.
  for (const at of [0, 1, 9, 13, 37, 38, 500, 2_000, record.length - 100, record.length - 1]) {
    const bad = record.slice();
    bad[at]! ^= 1;
    assertEquals((await openState(bad, g.publicKey, member.dh)).kind, "invalid", `byte ${at}`);
  }
  for (
    const bad of [
      record.subarray(0, record.length - 1),
      new Uint8Array([...record, 0]),
      new Uint8Array(0),
    ]
  ) {
    assertEquals((await openState(bad, g.publicKey, member.dh)).kind, "invalid");
  }
  // A member (not an admin) signs a record with its own key: the group's key does not verify it.
  const forger = await generateSigningKeyPair();
  const forged = await sealState(forger, { seq: 99, generation: 5, info, key });
  assertEquals((await openState(forged, g.publicKey, member.dh)).kind, "invalid");
});

Deno.test("group message: round trip in every size, tampering and a wrong key fail", async () => {
  const sender = await account();
  const swarmKey = groupSwarmKey((await generateSigningKeyPair()).publicKey);
  const key = randomBytes(32);
  for (const length of [0, 100, 900, 60_000, MAX_GROUP_CONTENT_BYTES]) {
    const content = randomBytes(length);
    const item = await sealGroupMessage(sender.signing, {
      swarmKey,
      generation: 4,
      key,
      sentAt: 1234,
      content,
    });
    assert(GROUP_MESSAGE_SIZES.includes(item.length));
    assertEquals(groupMessageGeneration(item), 4);
    const out = await openGroupMessage(item, swarmKey, key);
    assertEquals(out?.content, content);
    assertEquals(out?.sender, sender.signing.publicKey);
    assertEquals(out?.sentAt, 1234);
    assertEquals(await openGroupMessage(item, swarmKey, randomBytes(32)), undefined);
    assertEquals(await openGroupMessage(item, randomBytes(32), key), undefined);
    for (const at of [0, 3, 4, 27, 28, item.length - 1]) {
      const bad = item.slice();
      bad[at]! ^= 1;
      assertEquals(await openGroupMessage(bad, swarmKey, key), undefined, `byte ${at}`);
    }
    assertEquals(await openGroupMessage(item.subarray(1), swarmKey, key), undefined);
  }
  const err = await assertRejects(
    () =>
      sealGroupMessage(sender.signing, {
        swarmKey,
        generation: 1,
        key,
        sentAt: 1,
        content: new Uint8Array(MAX_GROUP_CONTENT_BYTES + 1),
      }),
    HearthError,
  );
  assertEquals(err.code, "too_large");
});
