/**
 * The owner API's messaging routes: conversations and their messages,
 * sending, message requests, contacts and the onion path view. Every
 * route answers 423 `locked` while the client database is locked.
 * @module
 */
import { Hono } from "hono";
import type { Messenger } from "../client/messenger.ts";
import type { RequestAction } from "../client/messages/chat_service.ts";
import { MAX_PAGE } from "../client/messages/chat_views.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { readJsonObject, requiredText } from "./json_body.ts";

/** The largest body of `POST /api/messages`, bytes (10,000 characters of any script fit). */
export const MAX_MESSAGE_BODY_BYTES = 65_536;

/** What {@link messageRoutes} needs. */
export interface MessageRoutesDeps {
  messenger: Messenger;
  log: Logger;
}

const ACTIONS: readonly RequestAction[] = ["accept", "decline", "block"];

/**
 * The routes `GET /api/conversations`, `GET /api/conversations/{id}/messages`,
 * `POST /api/messages`, `GET /api/requests`, `POST /api/requests/{id}/{action}`,
 * `GET /api/contacts` and `GET /api/paths`.
 * @param deps the messenger and a logger
 * @returns a sub-app to mount at "/"
 */
export function messageRoutes(deps: MessageRoutesDeps): Hono {
  const { messenger, log } = deps;
  const app = new Hono();

  app.get("/api/conversations", async (c) => {
    return c.json({ conversations: await messenger.chat().conversations() });
  });

  app.get("/api/conversations/:id/messages", async (c) => {
    const chat = messenger.chat();
    const before = optionalInt(c.req.query("before"), "before");
    const limit = optionalInt(c.req.query("limit"), "limit");
    if (limit !== undefined && (limit < 1 || limit > MAX_PAGE)) {
      throw new HearthError("bad_request", `limit must be 1 to ${MAX_PAGE}`);
    }
    const messages = await chat.messages(c.req.param("id"), {
      ...(before === undefined ? {} : { before }),
      ...(limit === undefined ? {} : { limit }),
    });
    return c.json({ messages });
  });

  app.post("/api/messages", async (c) => {
    const chat = messenger.chat();
    const body = await readJsonObject(c.req.raw, MAX_MESSAGE_BODY_BYTES);
    const to = requiredText(body, "to");
    if (typeof body.text !== "string") throw new HearthError("bad_request", "text must be text");
    if (body.text.trim() === "") throw new HearthError("bad_request", "text is empty");
    const message = await chat.send(to, body.text);
    log.debug("message.queued");
    return c.json(message, 201);
  });

  app.get("/api/requests", async (c) => {
    return c.json({ requests: await messenger.chat().requests() });
  });

  app.post("/api/requests/:id/:action", async (c) => {
    const chat = messenger.chat();
    const action = c.req.param("action") as RequestAction;
    if (!ACTIONS.includes(action)) throw new HearthError("not_found", "No such route");
    await chat.decide(c.req.param("id"), action);
    log.info("request.decided", { [action]: true });
    return c.json({ ok: true });
  });

  app.get("/api/contacts", async (c) => {
    return c.json({ contacts: await messenger.chat().contacts() });
  });

  app.get("/api/paths", (c) => {
    return c.json({ paths: messenger.chat().paths() });
  });

  return app;
}

function optionalInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(value)) {
    throw new HearthError("bad_request", `${name} must be a non-negative integer`);
  }
  return Number(value);
}
