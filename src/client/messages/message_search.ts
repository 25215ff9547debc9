/**
 * Searching the text of the owner's messages: the conversations the owner
 * sees (Note to Self, contacts, groups the owner is or was in; not
 * requests, declined or blocked peers), newest first, case-insensitive.
 *
 * The client database is encrypted at rest as a whole (vault.ts), so
 * inside it the texts are plain and a search reads them directly; there
 * is no separate index to keep in step (or to leak). Matching is done
 * here rather than by SQLite, whose case folding is ASCII only. The cost
 * is bounded: a search reads at most {@link SEARCH_SCAN_LIMIT} of the
 * newest messages, in pages, and stops as soon as it has `limit` results;
 * an answer that stopped at the bound says so (`complete: false`).
 * @module
 */
import { type Kysely, sql } from "kysely";
import { HearthError } from "../../shared/errors.ts";
import type { ClientDb, GroupState } from "../db/schema.ts";
import { bodyText } from "./chat_views.ts";

/** The longest query, Unicode code points (after trimming). */
export const MAX_QUERY_CHARS = 100;
/** Results per search unless asked otherwise. */
export const DEFAULT_SEARCH_LIMIT = 50;
/** The most results one search answers. */
export const MAX_SEARCH_LIMIT = 200;
/** The most messages one search reads, newest first. */
export const SEARCH_SCAN_LIMIT = 20_000;
/** Messages read per query. */
const SCAN_PAGE = 500;
/** Text kept before and after the match in a snippet, UTF-16 units. */
const SNIPPET_BEFORE = 40;
const SNIPPET_AFTER = 80;
/** The group states whose conversations the owner sees (as chat_views.ts lists them). */
const SHOWN_GROUP_STATES: readonly GroupState[] = ["joined", "left", "removed"];

/** One message found. */
export interface SearchResult {
  /** The conversation: a peer's Account ID, "self" or a Group ID. */
  conversationId: string;
  /** The message's id. */
  messageId: string;
  /** The sender's Account ID (the owner's own for outgoing messages). */
  sender: string;
  /** `in` or `out`. */
  direction: "in" | "out";
  /** When the sender sent it, ms. */
  sentAt: number;
  /** Up to ~40 characters before the match, the match, and up to ~80 after ("…" where cut). */
  snippet: string;
  /** Where the match is in `snippet`, UTF-16 units. */
  match: { start: number; length: number };
}

/** What a search answers. */
export interface SearchAnswer {
  /** The messages found, newest first. */
  results: SearchResult[];
  /** False when the search stopped at {@link SEARCH_SCAN_LIMIT} with older messages unread. */
  complete: boolean;
}

/**
 * A query checked: text, trimmed and NFC-normalized, 1 to
 * {@link MAX_QUERY_CHARS} code points, well-formed.
 * @throws {HearthError} `bad_request` otherwise
 */
export function parseSearchQuery(raw: unknown): string {
  if (typeof raw !== "string") throw new HearthError("bad_request", "q must be text");
  if (raw.length > MAX_QUERY_CHARS * 16 || !raw.isWellFormed()) {
    throw new HearthError("bad_request", `q must be 1 to ${MAX_QUERY_CHARS} characters`);
  }
  const query = raw.normalize("NFC").trim();
  const chars = [...query].length;
  if (chars === 0 || chars > MAX_QUERY_CHARS) {
    throw new HearthError("bad_request", `q must be 1 to ${MAX_QUERY_CHARS} characters`);
  }
  return query;
}

/**
 * Text folded for case-insensitive matching, one code point at a time
 * (lower case; a final sigma as a sigma), with where each folded UTF-16
 * unit came from in the original, so a match maps back to the original
 * even when folding changed lengths.
 * @param text the original text
 * @returns the folded text and, per folded unit, its original offset
 */
export function foldCase(text: string): { folded: string; from: number[] } {
  let folded = "";
  const from: number[] = [];
  let at = 0;
  for (const cp of text) {
    const f = cp.toLowerCase().replaceAll("ς", "σ");
    folded += f;
    for (let i = 0; i < f.length; i++) from.push(at);
    at += cp.length;
  }
  return { folded, from };
}

/**
 * Where `query` first occurs in `text`, case-insensitively.
 * @param text the text to search
 * @param foldedQuery the query, already folded by {@link foldCase}
 * @returns the match's start and end in `text` (UTF-16 units), or undefined
 */
export function findInText(
  text: string,
  foldedQuery: string,
): { start: number; end: number } | undefined {
  const { folded, from } = foldCase(text);
  const at = folded.indexOf(foldedQuery);
  if (at < 0 || foldedQuery === "") return undefined;
  const start = from[at]!;
  const last = from[at + foldedQuery.length - 1]!;
  const end = last + String.fromCodePoint(text.codePointAt(last)!).length;
  return { start, end };
}

/**
 * A short piece of `text` around a match: whitespace shown as spaces, cut
 * between code points, "…" where text was left out.
 * @returns the snippet and where the match is in it
 */
export function snippetAround(
  text: string,
  match: { start: number; end: number },
): { snippet: string; match: { start: number; length: number } } {
  let from = Math.max(0, match.start - SNIPPET_BEFORE);
  let to = Math.min(text.length, match.end + SNIPPET_AFTER);
  if (from > 0 && isLowSurrogate(text.charCodeAt(from))) from--;
  if (to < text.length && isLowSurrogate(text.charCodeAt(to))) to++;
  const head = from > 0 ? "…" : "";
  const body = text.slice(from, to).replace(/\s/g, " ");
  return {
    snippet: head + body + (to < text.length ? "…" : ""),
    match: { start: head.length + match.start - from, length: match.end - match.start },
  };
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * Search the owner's messages.
 * @param db the unlocked client database
 * @param rawQuery the query (see {@link parseSearchQuery})
 * @param options.limit 1 to {@link MAX_SEARCH_LIMIT} (default {@link DEFAULT_SEARCH_LIMIT})
 * @param options.now current time, ms: messages past their expiry are never found
 * @param options.scanLimit the most messages read (default {@link SEARCH_SCAN_LIMIT})
 * @returns the results, newest first, and whether every message was read
 * @throws {HearthError} `bad_request` for a bad query or limit
 */
export async function searchMessages(
  db: Kysely<ClientDb>,
  rawQuery: string,
  options: { limit?: number; now: number; scanLimit?: number },
): Promise<SearchAnswer> {
  const query = foldCase(parseSearchQuery(rawQuery)).folded;
  const limit = options.limit ?? DEFAULT_SEARCH_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) {
    throw new HearthError("bad_request", `limit must be 1 to ${MAX_SEARCH_LIMIT}`);
  }
  const scanLimit = options.scanLimit ?? SEARCH_SCAN_LIMIT;
  const shown = await shownConversations(db);
  const results: SearchResult[] = [];
  let cursor: { sentAt: number; id: string } | undefined;
  let scanned = 0;
  while (results.length < limit) {
    if (scanned >= scanLimit) {
      return { results, complete: !(await olderExists(db, cursor)) };
    }
    let q = db.selectFrom("messages")
      .select([
        "id",
        "conversation_id",
        "sender",
        "direction",
        "sent_at",
        "body_json",
        "expires_at",
      ])
      .where("deleted", "=", 0);
    if (cursor) q = q.where(sql<boolean>`(sent_at, id) < (${cursor.sentAt}, ${cursor.id})`);
    const page = Math.min(SCAN_PAGE, scanLimit - scanned);
    const rows = await q.orderBy("sent_at", "desc").orderBy("id", "desc").limit(page).execute();
    for (const r of rows) {
      if (results.length >= limit) break;
      if (!shown.has(r.conversation_id)) continue;
      if (r.expires_at !== null && r.expires_at <= options.now) continue;
      const text = bodyText(r.body_json);
      const match = text === "" ? undefined : findInText(text, query);
      if (!match) continue;
      results.push({
        conversationId: r.conversation_id,
        messageId: r.id,
        sender: r.sender,
        direction: r.direction,
        sentAt: r.sent_at,
        ...snippetAround(text, match),
      });
    }
    scanned += rows.length;
    const last = rows.at(-1);
    if (!last || rows.length < page) break; // the oldest message was read
    cursor = { sentAt: last.sent_at, id: last.id };
  }
  return { results, complete: true };
}

/** The ids of the conversations the owner sees. */
async function shownConversations(db: Kysely<ClientDb>): Promise<Set<string>> {
  const contacts = await db.selectFrom("contacts").select("account_id")
    .where("state", "=", "contact").execute();
  const groups = await db.selectFrom("groups").select("id")
    .where("state", "in", SHOWN_GROUP_STATES).execute();
  return new Set(["self", ...contacts.map((c) => c.account_id), ...groups.map((g) => g.id)]);
}

/** Whether a message older than the cursor is left (a search that stopped at its bound). */
async function olderExists(
  db: Kysely<ClientDb>,
  cursor: { sentAt: number; id: string } | undefined,
): Promise<boolean> {
  let q = db.selectFrom("messages").select("id").where("deleted", "=", 0);
  if (cursor) q = q.where(sql<boolean>`(sent_at, id) < (${cursor.sentAt}, ${cursor.id})`);
  return (await q.limit(1).executeTakeFirst()) !== undefined;
}
