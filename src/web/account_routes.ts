/**
 * The owner API's account routes: create or restore the account, unlock
 * and lock the client database, and show the account.
 * @module
 */
import { Hono } from "hono";
import type { Messenger } from "../client/messenger.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { optionalText, readJsonObject, requiredText } from "./json_body.ts";
import type { UnlockLimiter } from "./unlock_limiter.ts";

/** What {@link accountRoutes} needs. */
export interface AccountRoutesDeps {
  messenger: Messenger;
  limiter: UnlockLimiter;
  log: Logger;
}

/**
 * The routes `GET /api/account`, `POST /api/account`, `POST /api/unlock`
 * and `POST /api/lock`. Unlock attempts run one at a time.
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
    log.info(recoveryPhrase === undefined ? "account.created" : "account.restored");
    return c.json(created, 201);
  });

  app.post("/api/unlock", async (c) => {
    const body = await readJsonObject(c.req.raw);
    const passphrase = requiredText(body, "passphrase");
    const attempt = unlocks.then(async () => {
      limiter.check();
      try {
        await messenger.unlock(passphrase);
      } catch (err) {
        if (err instanceof HearthError && err.code === "wrong_passphrase") {
          limiter.failed();
          log.info("account.unlock-failed", { failures: limiter.failures });
        }
        throw err;
      }
      limiter.succeeded();
    });
    unlocks = attempt.catch(() => {});
    await attempt;
    return c.json({ state: messenger.state() });
  });

  app.post("/api/lock", async (c) => {
    await messenger.lock();
    return c.json({ state: messenger.state() });
  });

  return app;
}
