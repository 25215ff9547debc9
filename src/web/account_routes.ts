/**
 * The owner API's account routes: create or restore the account, unlock
 * and lock the client database, show the account, and change and serve
 * the owner's profile (display name and avatar).
 * @module
 */
import { Hono } from "hono";
import { type Avatar, sniffAvatarType } from "../client/account/mod.ts";
import type { Messenger } from "../client/messenger.ts";
import { MAX_AVATAR_BYTES } from "../client/messages/content.ts";
import { base64Field } from "../shared/codec/fields.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { avatarResponse } from "./contact_routes.ts";
import { optionalText, readJsonObject, requiredText } from "./json_body.ts";
import type { UnlockLimiter } from "./unlock_limiter.ts";

/**
 * The largest body of `PATCH /api/account`, bytes: an avatar of
 * {@link MAX_AVATAR_BYTES} as base64 (10,924 characters) and the longest
 * display name the profile check reads, JSON-escaped.
 */
export const MAX_PROFILE_BODY_BYTES = 24_576;

/** What {@link accountRoutes} needs. */
export interface AccountRoutesDeps {
  /** The owner's messenger. */
  messenger: Messenger;
  /** The backoff of wrong passphrases. */
  limiter: UnlockLimiter;
  /** Where events go (names and numbers only). */
  log: Logger;
}

/**
 * The routes `GET|POST|PATCH /api/account`, `GET /api/account/avatar`,
 * `POST /api/unlock`, `POST /api/lock`, `POST /api/account/passphrase` and
 * `POST /api/account/phrase`. Passphrase checks (unlock, change, showing the
 * phrase) run one at a time and share the backoff of wrong passphrases.
 * @param deps the messenger, the unlock limiter and a logger
 * @returns a sub-app to mount at "/"
 */
export function accountRoutes(deps: AccountRoutesDeps): Hono {
  const { messenger, limiter, log } = deps;
  const app = new Hono();
  let unlocks: Promise<unknown> = Promise.resolve();

  app.get("/api/account", (c) => c.json(messenger.account()));

  app.post("/api/account", async (c) => {
    const body = await readJsonObject(c.req.raw);
    const passphrase = requiredText(body, "passphrase");
    const displayName = optionalText(body, "displayName");
    const recoveryPhrase = optionalText(body, "recoveryPhrase");
    const created = await messenger.createAccount({
      passphrase,
      ...(displayName === undefined ? {} : { displayName }),
      ...(recoveryPhrase === undefined ? {} : { recoveryPhrase }),
    });
    // A restore answers the messenger's `historyNotice` in place of the phrase.
    log.info(recoveryPhrase === undefined ? "account.created" : "account.restored");
    return c.json(created, 201);
  });

  app.patch("/api/account", async (c) => {
    messenger.account();
    const body = await readJsonObject(c.req.raw, MAX_PROFILE_BODY_BYTES);
    const input: { displayName?: string; avatar?: Avatar | null } = {};
    if (body.displayName !== undefined) {
      if (typeof body.displayName !== "string") {
        throw new HearthError("bad_request", "displayName must be text");
      }
      input.displayName = body.displayName;
    }
    if (body.avatar !== undefined) input.avatar = avatarField(body);
    const account = input.displayName === undefined && input.avatar === undefined
      ? messenger.account()
      : await messenger.updateProfile(input);
    log.info("account.profile-updated", {
      name: input.displayName !== undefined,
      avatar: input.avatar !== undefined,
    });
    return c.json(account);
  });

  app.get("/api/account/avatar", async () => {
    messenger.account();
    return avatarResponse(await messenger.avatar());
  });

  /** Run a passphrase check one at a time, under the backoff of wrong passphrases. */
  const guarded = <T>(event: string, fn: () => Promise<T>): Promise<T> => {
    const attempt = unlocks.then(async () => {
      limiter.check();
      let result: T;
      try {
        result = await fn();
      } catch (err) {
        if (err instanceof HearthError && err.code === "wrong_passphrase") {
          limiter.failed();
          log.info(event, { failures: limiter.failures });
        }
        throw err;
      }
      limiter.succeeded();
      return result;
    });
    unlocks = attempt.catch(() => {});
    return attempt;
  };

  app.post("/api/unlock", async (c) => {
    const body = await readJsonObject(c.req.raw);
    const passphrase = requiredText(body, "passphrase");
    await guarded("account.unlock-failed", () => messenger.unlock(passphrase));
    return c.json({ state: messenger.state() });
  });

  app.post("/api/account/passphrase", async (c) => {
    const body = await readJsonObject(c.req.raw);
    const current = requiredText(body, "current");
    const next = requiredText(body, "new");
    messenger.account();
    await guarded(
      "account.passphrase-change-failed",
      () => messenger.changePassphrase(current, next),
    );
    log.info("account.passphrase-changed");
    return c.json({ ok: true });
  });

  app.post("/api/account/phrase", async (c) => {
    const body = await readJsonObject(c.req.raw);
    const passphrase = requiredText(body, "passphrase");
    messenger.account();
    const recoveryPhrase = await guarded(
      "account.phrase-refused",
      () => messenger.recoveryPhrase(passphrase),
    );
    log.info("account.phrase-shown");
    return c.json({ recoveryPhrase });
  });

  app.post("/api/lock", async (c) => {
    await messenger.lock();
    return c.json({ state: messenger.state() });
  });

  return app;
}

/**
 * The `avatar` field of a profile change: null removes it; otherwise
 * base64 of a PNG, JPEG or WebP image of at most {@link MAX_AVATAR_BYTES}.
 */
function avatarField(body: Record<string, unknown>): Avatar | null {
  if (body.avatar === null) return null;
  const bytes = base64Field(body, "avatar", MAX_AVATAR_BYTES);
  if (bytes.length > MAX_AVATAR_BYTES) {
    throw new HearthError("too_large", "Avatar is larger than 8 KiB");
  }
  const type = sniffAvatarType(bytes);
  if (type === undefined) {
    throw new HearthError("bad_request", "Avatar must be a PNG, JPEG or WebP image");
  }
  return { type, bytes };
}
