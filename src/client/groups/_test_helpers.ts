/**
 * Helpers of the groups tests: an account with its vault and a chat
 * without a directory (nothing runs by itself), and random item hashes.
 * @module
 */
import { randomBytes } from "../../shared/crypto/mod.ts";
import { accountKeysFromSeed, createSeed } from "../account/mod.ts";
import { TEST_KDF, TEST_PASS } from "../db/_test_helpers.ts";
import { ClientVault } from "../db/vault.ts";
import { ChatService } from "../messages/chat_service.ts";

/** One account with its vault and a chat without a directory (nothing runs by itself). */
export async function side(dir: string, name: string) {
  const seed = createSeed();
  const keys = await accountKeysFromSeed(seed);
  const vault = await ClientVault.open(dir, { kdfParams: TEST_KDF });
  await vault.create(TEST_PASS);
  await vault.db.insertInto("account").values({ id: 1, seed, display_name: name, created_at: 1 })
    .execute();
  const chat = await ChatService.start({ db: vault.db, keys });
  return {
    keys,
    vault,
    chat,
    close: async () => {
      await chat.stop();
      await vault.close();
    },
  };
}

/** A random item hash, 64 hex characters. */
export const hash = (): string =>
  [...randomBytes(32)].map((b) => b.toString(16).padStart(2, "0")).join("");
