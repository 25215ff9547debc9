/**
 * The rules the owner's actions check before anything is stored: the
 * shortest timer, what a conversation's timer does to a message sent now,
 * the TTL of an item acting on a message, and the checks of a text, a
 * message id and a conversation patch. Pure: no database, no network.
 * @module
 */
import { MIN_TTL_MS } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import type { DisappearingMode } from "../db/schema.ts";
import { MAX_EXPIRES_IN_S, MAX_TEXT_CHARS } from "./content.ts";
import { INBOX_TTL_MS } from "./outbox_worker.ts";

/** The shortest disappearing timer the owner may set, seconds (the swarm's shortest TTL). */
export const MIN_DISAPPEARING_S = 10;

/** How long a typing indicator lives in the swarm, ms. */
export const TYPING_TTL_MS = 10_000;

/** A change to a conversation's settings; absent fields stay. */
export interface ConversationPatch {
  /** The disappearing timer: mode `off` (seconds ignored), or a mode and 10 s … 1 year. */
  disappearing?: { mode: DisappearingMode; seconds: number };
  /** Mute notifications. */
  muted?: boolean;
}

/** Who a delete is for: the owner only (any message), or everyone (the owner's own messages). */
export type DeleteScope = "me" | "everyone";

/** What a conversation's timer does to a message sent now. */
export interface OutgoingTimer {
  /** The timer, seconds, as the content carries it (absent when off). */
  expiresIn?: number;
  /** When it starts, as the content carries it (absent when off). */
  mode?: "after_send" | "after_read";
  /** When the owner's copy disappears (the sender has read what it wrote), or null. */
  expiresAt: number | null;
  /** The outbox item's swarm TTL, ms: the timer for `after_send`, else null (14 days). */
  ttlMs: number | null;
}

/**
 * What a conversation's timer does to a message sent at `sentAt`.
 * @param timer the conversation's mode and seconds
 * @param sentAt the message's sent-at time, ms
 * @returns the content fields, the owner's expiry and the outbox TTL
 */
export function outgoingTimer(
  timer: { mode: DisappearingMode; seconds: number },
  sentAt: number,
): OutgoingTimer {
  if (timer.mode === "off" || timer.seconds <= 0) return { expiresAt: null, ttlMs: null };
  const ms = timer.seconds * 1000;
  return {
    expiresIn: timer.seconds,
    mode: timer.mode,
    expiresAt: sentAt + ms,
    ttlMs: timer.mode === "after_send" ? Math.max(MIN_TTL_MS, Math.min(INBOX_TTL_MS, ms)) : null,
  };
}

/**
 * The swarm TTL of an edit, delete or reaction of a message: while the
 * message has a timer, the item lives no longer than the message (at
 * least the swarm's shortest TTL), so an edited text does not outlive it.
 * @param expiresAt the message's `expires_at` on this node, or null
 * @param now current time, ms
 * @returns the TTL, ms, or undefined for the inbox default
 */
export function actionTtlMs(expiresAt: number | null, now: number): number | undefined {
  if (expiresAt === null) return undefined;
  return Math.max(MIN_TTL_MS, Math.min(INBOX_TTL_MS, expiresAt - now));
}

/**
 * A text checked as a text content will be, normalized to NFC.
 * @throws {HearthError} `too_large` over {@link MAX_TEXT_CHARS}; `bad_request` when empty
 *   or not well-formed
 */
export function checkText(text: string): string {
  if (typeof text !== "string") throw new HearthError("bad_request", "Text must be a string");
  if (!text.isWellFormed()) throw new HearthError("bad_request", "Text is not well-formed Unicode");
  const normalized = text.normalize("NFC");
  const chars = [...normalized].length;
  if (chars > MAX_TEXT_CHARS) throw new HearthError("too_large", "Text is too long");
  if (chars === 0) throw new HearthError("bad_request", "Text is empty");
  return normalized;
}

/**
 * A conversation patch checked field by field.
 * @param patch the patch as the caller gave it
 * @returns the checked patch (a timer `off` has seconds 0)
 * @throws {HearthError} `bad_request`
 */
export function checkPatch(patch: ConversationPatch): ConversationPatch {
  if (patch === null || typeof patch !== "object") {
    throw new HearthError("bad_request", "Patch must be an object");
  }
  const out: ConversationPatch = {};
  if (patch.disappearing !== undefined) {
    const d = patch.disappearing;
    if (d === null || typeof d !== "object") {
      throw new HearthError("bad_request", "Field disappearing must be an object");
    }
    if (d.mode === "off") {
      out.disappearing = { mode: "off", seconds: 0 };
    } else if (d.mode === "after_send" || d.mode === "after_read") {
      if (
        !Number.isSafeInteger(d.seconds) || d.seconds < MIN_DISAPPEARING_S ||
        d.seconds > MAX_EXPIRES_IN_S
      ) {
        throw new HearthError(
          "bad_request",
          `Field seconds must be ${MIN_DISAPPEARING_S} to ${MAX_EXPIRES_IN_S}`,
        );
      }
      out.disappearing = { mode: d.mode, seconds: d.seconds };
    } else {
      throw new HearthError("bad_request", "Field mode must be off, after_send or after_read");
    }
  }
  if (patch.muted !== undefined) {
    if (typeof patch.muted !== "boolean") {
      throw new HearthError("bad_request", "Field muted must be a boolean");
    }
    out.muted = patch.muted;
  }
  return out;
}
