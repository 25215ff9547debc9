/**
 * The owner API's messaging routes: conversations and their settings,
 * messages (send, reply, edit, delete, react, search) and typing indicators. Every
 * body field is parsed and checked here, before the chat service sees it.
 * Every route answers 423 `locked` while the client database is locked.
 * @module
 */
import { Hono } from "hono";
import { normalizeAccountId } from "../client/account/mod.ts";
import { looksLikeGroupId, normalizeGroupId } from "../client/groups/group_id.ts";
import type { Messenger } from "../client/messenger.ts";
import type { MessageView } from "../client/messages/chat_views.ts";
import { MAX_ATTACHMENTS } from "../client/attachments/attachment_ref.ts";
import {
  type ConversationPatch,
  type DeleteScope,
  MIN_DISAPPEARING_S,
} from "../client/messages/chat_service.ts";
import { MAX_PAGE } from "../client/messages/chat_views.ts";
import { MAX_SEARCH_LIMIT } from "../client/messages/message_search.ts";
import { isMessageId, MAX_EMOJI_CHARS, MAX_EXPIRES_IN_S } from "../client/messages/content.ts";
import type { DisappearingMode } from "../client/db/schema.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { optionalText, readJsonObject, requiredText } from "./json_body.ts";

/** The largest body of `POST /api/messages` and `PATCH /api/messages/{id}`, bytes. */
export const MAX_MESSAGE_BODY_BYTES = 65_536;

/** What {@link messageRoutes} needs. */
export interface MessageRoutesDeps {
  /** The owner's messenger. */
  messenger: Messenger;
  /** Where events go (names and numbers only). */
  log: Logger;
}

const MODES: readonly DisappearingMode[] = ["off", "after_send", "after_read"];
const SCOPES: readonly DeleteScope[] = ["me", "everyone"];

/**
 * The routes `GET /api/conversations`, `GET|PATCH /api/conversations/{id}`,
 * `GET /api/conversations/{id}/messages`, `POST /api/conversations/{id}/typing`,
 * `POST /api/messages`, `GET /api/messages/search`, `PATCH|DELETE /api/messages/{id}` and
 * `PUT|DELETE /api/messages/{id}/reaction`.
 * @param deps the messenger and a logger
 * @returns a sub-app to mount at "/"
 */
export function messageRoutes(deps: MessageRoutesDeps): Hono {
  const { messenger, log } = deps;
  const app = new Hono();

  app.get("/api/conversations", async (c) => {
    return c.json({ conversations: await messenger.chat().conversations() });
  });

  app.get("/api/conversations/:id", async (c) => {
    const chat = messenger.chat();
    return c.json(await chat.conversation(conversationParam(c.req.param("id"))));
  });

  app.patch("/api/conversations/:id", async (c) => {
    const chat = messenger.chat();
    const id = conversationParam(c.req.param("id"));
    const patch = conversationPatch(await readJsonObject(c.req.raw));
    if (patch.disappearing === undefined && patch.muted === undefined) {
      return c.json(await chat.conversation(id));
    }
    const conversation = await chat.updateConversation(id, patch);
    log.info("conversation.updated", {
      timer: patch.disappearing !== undefined,
      muted: patch.muted !== undefined,
    });
    return c.json(conversation);
  });

  app.get("/api/conversations/:id/messages", async (c) => {
    const chat = messenger.chat();
    const before = optionalInt(c.req.query("before"), "before");
    const limit = optionalInt(c.req.query("limit"), "limit");
    if (limit !== undefined && (limit < 1 || limit > MAX_PAGE)) {
      throw new HearthError("bad_request", `limit must be 1 to ${MAX_PAGE}`);
    }
    const messages = await chat.messages(conversationParam(c.req.param("id")), {
      ...(before === undefined ? {} : { before }),
      ...(limit === undefined ? {} : { limit }),
    });
    return c.json({ messages });
  });

  app.post("/api/conversations/:id/typing", async (c) => {
    const chat = messenger.chat();
    const id = conversationParam(c.req.param("id"));
    const active = booleanField(await readJsonObject(c.req.raw), "active", true);
    const sent = await chat.typing(id, active!);
    log.debug("typing.signalled", { active: active!, sent });
    return c.json({ sent });
  });

  app.post("/api/messages", async (c) => {
    const chat = messenger.chat();
    const body = await readJsonObject(c.req.raw, MAX_MESSAGE_BODY_BYTES);
    const rawTo = requiredText(body, "to");
    const attachments = attachmentIds(body);
    const voice = booleanField(body, "voice") === true;
    if (voice && attachments.length !== 1) {
      throw new HearthError("bad_request", "voice needs exactly one attachment");
    }
    const text = attachments.length > 0 && (body.text === undefined || body.text === "")
      ? ""
      : messageText(body);
    const replyTo = optionalText(body, "replyTo");
    if (replyTo !== undefined) checkMessageId(replyTo, "replyTo");
    const options = {
      ...(replyTo === undefined ? {} : { replyTo }),
      ...(attachments.length > 0 ? { attachments } : {}),
      ...(voice ? { voice } : {}),
    };
    let message: MessageView;
    const toGroup = looksLikeGroupId(rawTo);
    if (toGroup) {
      message = await messenger.groups().send(normalizeGroupId(rawTo), {
        ...(text === "" ? {} : { text }),
        ...options,
      });
    } else {
      message = await chat.send(conversationParam(rawTo), text, options);
    }
    log.debug("message.queued", {
      reply: replyTo !== undefined,
      files: attachments.length,
      group: toGroup,
    });
    return c.json(message, 201);
  });

  app.get("/api/messages/search", async (c) => {
    const chat = messenger.chat();
    const q = c.req.query("q");
    if (q === undefined) throw new HearthError("bad_request", "q is required");
    const limit = optionalInt(c.req.query("limit"), "limit");
    if (limit !== undefined && (limit < 1 || limit > MAX_SEARCH_LIMIT)) {
      throw new HearthError("bad_request", `limit must be 1 to ${MAX_SEARCH_LIMIT}`);
    }
    const answer = await chat.search(q, limit === undefined ? {} : { limit });
    log.debug("messages.searched");
    return c.json(answer);
  });

  app.patch("/api/messages/:id", async (c) => {
    const chat = messenger.chat();
    const id = messageIdParam(c.req.param("id"));
    const text = messageText(await readJsonObject(c.req.raw, MAX_MESSAGE_BODY_BYTES));
    const message = await chat.edit(id, text);
    log.debug("message.edited");
    return c.json(message);
  });

  app.delete("/api/messages/:id", async (c) => {
    const chat = messenger.chat();
    const id = messageIdParam(c.req.param("id"));
    const scope = (c.req.query("for") ?? "me") as DeleteScope;
    if (!SCOPES.includes(scope)) throw new HearthError("bad_request", "for must be me or everyone");
    const tombstone = await chat.deleteMessage(id, scope);
    log.debug("message.deleted", { everyone: scope === "everyone" });
    return c.json(tombstone ?? { ok: true });
  });

  app.put("/api/messages/:id/reaction", async (c) => {
    const chat = messenger.chat();
    const id = messageIdParam(c.req.param("id"));
    const emoji = requiredText(await readJsonObject(c.req.raw), "emoji");
    if (!emoji.isWellFormed() || [...emoji.normalize("NFC")].length > MAX_EMOJI_CHARS) {
      throw new HearthError("bad_request", `emoji must be 1 to ${MAX_EMOJI_CHARS} characters`);
    }
    const message = await chat.react(id, emoji);
    log.debug("message.reacted");
    return c.json(message);
  });

  app.delete("/api/messages/:id/reaction", async (c) => {
    const chat = messenger.chat();
    const message = await chat.react(messageIdParam(c.req.param("id")), null);
    log.debug("message.reaction-removed");
    return c.json(message);
  });

  return app;
}

/**
 * A conversation id as the chat keys it: "self", a Group ID (`hearthg1…`,
 * PROTOCOL §14) or an Account ID, in its canonical (lower-case) form.
 * @param value a path segment or body field
 * @returns the id
 * @throws {HearthError} `bad_request` for a malformed Group ID; `bad_account_id` for
 *   anything else
 */
export function conversationParam(value: string): string {
  if (value === "self") return value;
  return looksLikeGroupId(value) ? normalizeGroupId(value) : normalizeAccountId(value);
}

/**
 * The `attachments` field of a send: absent, or 1 … 10 file ids, each once.
 * @throws {HearthError} `bad_request` for anything else; `too_large` over 10
 */
function attachmentIds(body: Record<string, unknown>): string[] {
  const value = body.attachments;
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new HearthError("bad_request", "attachments must be an array");
  if (value.length > MAX_ATTACHMENTS) {
    throw new HearthError("too_large", `At most ${MAX_ATTACHMENTS} attachments`);
  }
  for (const id of value) {
    if (typeof id !== "string" || !/^[0-9a-f]{32}$/.test(id)) {
      throw new HearthError("bad_request", "attachments must be file ids");
    }
  }
  if (new Set(value).size !== value.length) {
    throw new HearthError("bad_request", "attachments repeats a file");
  }
  return value as string[];
}

function checkMessageId(value: string, name: string): string {
  if (!isMessageId(value)) throw new HearthError("bad_request", `${name} must be a message id`);
  return value;
}

function messageIdParam(value: string): string {
  return checkMessageId(value, "The message id");
}

/** The `text` field of a send or an edit: text, not blank (the service bounds its length). */
function messageText(body: Record<string, unknown>): string {
  if (typeof body.text !== "string") throw new HearthError("bad_request", "text must be text");
  if (body.text.trim() === "") throw new HearthError("bad_request", "text is empty");
  return body.text;
}

/**
 * A boolean field.
 * @returns the value, or undefined when absent (and not required)
 * @throws {HearthError} `bad_request` when present and not a boolean, or required and absent
 */
function booleanField(
  body: Record<string, unknown>,
  name: string,
  required = false,
): boolean | undefined {
  const value = body[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== "boolean") throw new HearthError("bad_request", `${name} must be a boolean`);
  return value;
}

/** The body of `PATCH /api/conversations/{id}`, checked. */
function conversationPatch(body: Record<string, unknown>): ConversationPatch {
  const patch: ConversationPatch = {};
  const muted = booleanField(body, "muted");
  if (muted !== undefined) patch.muted = muted;
  const timer = body.disappearing;
  if (timer === undefined) return patch;
  if (timer === null || typeof timer !== "object" || Array.isArray(timer)) {
    throw new HearthError("bad_request", "disappearing must be an object");
  }
  const { mode, seconds } = timer as Record<string, unknown>;
  if (typeof mode !== "string" || !(MODES as readonly string[]).includes(mode)) {
    throw new HearthError("bad_request", "disappearing.mode must be off, after_send or after_read");
  }
  if (seconds !== undefined && !Number.isSafeInteger(seconds)) {
    throw new HearthError("bad_request", "disappearing.seconds must be an integer");
  }
  if (mode === "off") {
    patch.disappearing = { mode, seconds: 0 };
    return patch;
  }
  const s = seconds as number | undefined;
  if (s === undefined || s < MIN_DISAPPEARING_S || s > MAX_EXPIRES_IN_S) {
    throw new HearthError(
      "bad_request",
      `disappearing.seconds must be ${MIN_DISAPPEARING_S} to ${MAX_EXPIRES_IN_S}`,
    );
  }
  patch.disappearing = { mode: mode as DisappearingMode, seconds: s };
  return patch;
}

function optionalInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(value)) {
    throw new HearthError("bad_request", `${name} must be a non-negative integer`);
  }
  return Number(value);
}
