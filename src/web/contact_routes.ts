/**
 * The owner API's routes about peers: message requests and the decisions
 * on them, contacts, their nicknames, blocking, a peer's avatar, and the
 * onion path view.
 * Every route answers 423 `locked` while the client database is locked.
 * @module
 */
import { Hono } from "hono";
import type { Messenger } from "../client/messenger.ts";
import { type Avatar, normalizeAccountId } from "../client/account/mod.ts";
import type { RequestAction } from "../client/messages/chat_service.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { readJsonObject } from "./json_body.ts";

/** What {@link contactRoutes} needs. */
export interface ContactRoutesDeps {
  /** The owner's messenger. */
  messenger: Messenger;
  /** Where events go (names and numbers only). */
  log: Logger;
}

const ACTIONS: readonly RequestAction[] = ["accept", "decline", "block"];

/**
 * The routes `GET /api/requests`, `POST /api/requests/{id}/{action}`,
 * `GET /api/contacts`, `PATCH /api/contacts/{id}` (the nickname),
 * `POST /api/contacts/{id}/block|unblock`,
 * `GET /api/contacts/{id}/avatar` and `GET /api/paths`.
 * @param deps the messenger and a logger
 * @returns a sub-app to mount at "/"
 */
export function contactRoutes(deps: ContactRoutesDeps): Hono {
  const { messenger, log } = deps;
  const app = new Hono();

  app.get("/api/requests", async (c) => {
    return c.json({ requests: await messenger.chat().requests() });
  });

  app.post("/api/requests/:id/:action", async (c) => {
    const chat = messenger.chat();
    const action = c.req.param("action") as RequestAction;
    if (!ACTIONS.includes(action)) throw new HearthError("not_found", "No such route");
    await chat.decide(normalizeAccountId(c.req.param("id")), action);
    log.info("request.decided", { [action]: true });
    return c.json({ ok: true });
  });

  app.get("/api/contacts", async (c) => {
    return c.json({ contacts: await messenger.chat().contacts() });
  });

  app.patch("/api/contacts/:id", async (c) => {
    const chat = messenger.chat();
    const id = normalizeAccountId(c.req.param("id"));
    const nickname = nicknameField(await readJsonObject(c.req.raw));
    const contact = await chat.setNickname(id, nickname);
    log.info("contact.nicknamed", { set: contact.nickname !== null });
    return c.json(contact);
  });

  app.post("/api/contacts/:id/block", async (c) => {
    const contact = await messenger.chat().setBlocked(normalizeAccountId(c.req.param("id")), true);
    log.info("contact.blocked");
    return c.json(contact);
  });

  app.post("/api/contacts/:id/unblock", async (c) => {
    const contact = await messenger.chat().setBlocked(normalizeAccountId(c.req.param("id")), false);
    log.info("contact.unblocked");
    return c.json(contact);
  });

  app.get("/api/contacts/:id/avatar", async (c) => {
    const chat = messenger.chat();
    return avatarResponse(await chat.avatar(normalizeAccountId(c.req.param("id"))));
  });

  app.get("/api/paths", (c) => {
    return c.json({ paths: messenger.chat().paths() });
  });

  return app;
}

/**
 * The `nickname` field of `PATCH /api/contacts/{id}`: required, text or
 * null (the service checks the text itself).
 * @throws {HearthError} `bad_request` when absent or of another type
 */
function nicknameField(body: Record<string, unknown>): string | null {
  const value = body.nickname;
  if (value === null) return null;
  if (typeof value !== "string") {
    throw new HearthError("bad_request", "nickname must be text or null");
  }
  return value;
}

/**
 * An avatar as an answer: its bytes with their media type, never cached
 * and never sniffed as anything else.
 * @param avatar the avatar, or null
 * @returns the answer
 * @throws {HearthError} `not_found` when there is none
 */
export function avatarResponse(avatar: Avatar | null): Response {
  if (avatar === null) throw new HearthError("not_found", "No avatar");
  return new Response(avatar.bytes.slice(), {
    headers: {
      "Content-Type": avatar.type,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
}
