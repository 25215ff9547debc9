import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { randomBytes } from "../../shared/crypto/mod.ts";
import { MAX_ITEM_BYTES } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { accountKeysFromSeed } from "../account/mod.ts";
import {
  type AccountConfig,
  CONFIG_BUCKETS,
  type ConfigContact,
  openConfig,
  sealConfig,
} from "./config_codec.ts";

async function account() {
  return await accountKeysFromSeed(randomBytes(32));
}

async function contacts(n: number, avatarBytes = 0): Promise<ConfigContact[]> {
  const out: ConfigContact[] = [];
  for (let i = 0; i < n; i++) {
    const c: ConfigContact = {
      accountId: (await account()).accountId,
      displayName: `Contact number ${i} with a fairly long display name`.slice(0, 64),
      state: i % 3 === 0 ? "blocked" : i % 3 === 1 ? "declined" : "contact",
    };
    if (avatarBytes > 0) c.avatar = { type: "image/png", bytes: randomBytes(avatarBytes) };
    out.push(c);
  }
  return out;
}

async function sample(): Promise<AccountConfig> {
  return {
    version: 7,
    updatedAt: 1_700_000_000_000,
    profile: { displayName: "Ada", avatar: { type: "image/webp", bytes: randomBytes(300) } },
    contacts: await contacts(3, 50),
    conversations: [
      { id: "self", disappearingMode: "off", disappearingSeconds: 0, muted: false },
      {
        id: (await account()).accountId,
        disappearingMode: "after_read",
        disappearingSeconds: 3600,
        muted: true,
      },
    ],
    settings: { read_receipts: "true" },
  };
}

async function refused(p: Promise<unknown>): Promise<void> {
  const err = await assertRejects(() => p, HearthError);
  assertEquals((err as HearthError).code, "bad_request");
}

Deno.test("a config round-trips, padded to a bucket", async () => {
  const keys = await account();
  const config = await sample();
  const item = await sealConfig(config, keys.seed, keys.signing);
  assert(CONFIG_BUCKETS.includes(item.length - (1 + 24 + 16 + 64)));
  assertEquals(await openConfig(item, keys.seed, keys.signing.publicKey), config);
});

Deno.test("a tampered config is refused", async () => {
  const keys = await account();
  const item = await sealConfig(await sample(), keys.seed, keys.signing);
  for (const at of [0, 5, 40, item.length - 70, item.length - 1]) {
    const bad = item.slice();
    bad[at]! ^= 1;
    await refused(openConfig(bad, keys.seed, keys.signing.publicKey));
  }
  await refused(openConfig(item.subarray(0, 50), keys.seed, keys.signing.publicKey));
});

Deno.test("another account's config, or a forged one, is refused", async () => {
  const mine = await account();
  const other = await account();
  const theirs = await sealConfig(await sample(), other.seed, other.signing);
  await refused(openConfig(theirs, mine.seed, mine.signing.publicKey));
  // Signed by someone else but encrypted under my key: the signature check refuses it.
  const forged = await sealConfig(await sample(), mine.seed, other.signing);
  await refused(openConfig(forged, mine.seed, mine.signing.publicKey));
  // Signed by me under the wrong key: it does not decrypt.
  const wrongKey = await sealConfig(await sample(), other.seed, mine.signing);
  await refused(openConfig(wrongKey, mine.seed, mine.signing.publicKey));
});

Deno.test("a config fits one item: contact avatars go first, then it is refused", async () => {
  const keys = await account();
  const base = await sample();
  const hundred = { ...base, contacts: await contacts(100) };
  const small = await sealConfig(hundred, keys.seed, keys.signing);
  assert(small.length <= MAX_ITEM_BYTES);
  assertEquals((await openConfig(small, keys.seed, keys.signing.publicKey)).contacts.length, 100);

  const withAvatars = { ...base, contacts: await contacts(20, 8_000) };
  const item = await sealConfig(withAvatars, keys.seed, keys.signing);
  assert(item.length <= MAX_ITEM_BYTES);
  const opened = await openConfig(item, keys.seed, keys.signing.publicKey);
  assertEquals(opened.contacts.length, 20);
  assert(opened.contacts.every((c) => c.avatar === undefined));
  assertEquals(opened.profile.avatar, base.profile.avatar);

  const huge = { ...base, contacts: await contacts(1_000) };
  const err = await assertRejects(() => sealConfig(huge, keys.seed, keys.signing), HearthError);
  assertEquals((err as HearthError).code, "too_large");
});

Deno.test("config: groups round-trip (access, token, admin seed); a config without them parses", async () => {
  const keys = await account();
  const { formatGroupId } = await import("../groups/group_id.ts");
  const { generateSigningKeyPair } = await import("../../shared/crypto/mod.ts");
  const g = await generateSigningKeyPair();
  const config: AccountConfig = {
    ...(await sample()),
    groups: [
      {
        id: formatGroupId(g.publicKey),
        state: "joined",
        name: "Club",
        access: randomBytes(32),
        token: randomBytes(64),
        admin: g.seed,
      },
      {
        id: formatGroupId((await generateSigningKeyPair()).publicKey),
        state: "invited",
        name: "Other",
        access: randomBytes(32),
        token: randomBytes(64),
      },
    ],
  };
  const opened = await openConfig(
    await sealConfig(config, keys.seed, keys.signing),
    keys.seed,
    keys.signing.publicKey,
  );
  assertEquals(opened.groups, config.groups);
  const old = await sample();
  const reopened = await openConfig(
    await sealConfig(old, keys.seed, keys.signing),
    keys.seed,
    keys.signing.publicKey,
  );
  assertEquals(reopened.groups, undefined);
});
