/**
 * The owner's peers, for {@link ChatService}: pending message requests and
 * the decision on them, contacts, blocking, the owner's nicknames for
 * them, and the avatars peers sent.
 * Each change is followed by a `contact` event, and by `status` events for
 * the owner's messages it made `failed`.
 * @module
 */
import { HearthError } from "../../shared/errors.ts";
import { type Avatar, normalizeAccountId, parseNickname, sniffAvatarType } from "../account/mod.ts";
import type { ChatContext } from "./chat_actions.ts";
import { profileFor, setBlockedState, setContactState } from "./chat_store.ts";
import { contactById, type ContactView, incomingIds, listContacts } from "./chat_views.ts";
import { newMessageId } from "./content.ts";

/** What a request decision does. */
export type RequestAction = "accept" | "decline" | "block";

/** The owner's requests, contacts and blocks; one per running chat. */
export class ChatContacts {
  readonly #chat: ChatContext;

  /** Create the contacts of a chat. */
  constructor(chat: ChatContext) {
    this.#chat = chat;
  }

  /** Pending message requests. */
  requests(): Promise<ContactView[]> {
    return listContacts(this.#chat.db, ["request"]);
  }

  /** Every known peer but pending requests: contacts, blocked and declined. */
  contacts(): Promise<ContactView[]> {
    return listContacts(this.#chat.db, ["contact", "blocked", "declined"]);
  }

  /**
   * Accept, decline or block a peer (see {@link ChatService.decide}).
   * @throws {HearthError} `bad_account_id`; `not_found` when there is no such request
   */
  async decide(peer: string, action: RequestAction): Promise<void> {
    const { db, sealer } = this.#chat;
    const accountId = normalizeAccountId(peer);
    const state = action === "accept" ? "contact" : action === "decline" ? "declined" : "blocked";
    const failed = await setContactState(db, accountId, state);
    this.#emitFailed(accountId, failed);
    await this.#emitContact(accountId);
    if (action !== "accept") return;
    const { profile, version } = await profileFor(db, accountId);
    await sealer.queueControl(accountId, {
      type: "request-accept",
      id: newMessageId(),
      ...(profile ? { profile } : {}),
    }, version !== undefined ? { profileSent: version } : {});
    await sealer.sendReceipts(accountId, await incomingIds(db, accountId), "delivered");
  }

  /**
   * Block or unblock a known peer (see {@link ChatService.setBlocked}).
   * @returns the peer as it is now
   * @throws {HearthError} `bad_account_id`; `not_found` when unknown (or not blocked, to unblock)
   */
  async setBlocked(peer: string, blocked: boolean): Promise<ContactView> {
    const accountId = normalizeAccountId(peer);
    if (accountId === this.#chat.keys.accountId) {
      throw new HearthError("not_found", "No such contact");
    }
    this.#emitFailed(accountId, await setBlockedState(this.#chat.db, accountId, blocked));
    const view = await this.#emitContact(accountId);
    return view!;
  }

  /**
   * Give a known peer a private nickname, or clear it (see {@link ChatService.setNickname}).
   * @returns the peer as it is now
   * @throws {HearthError} `bad_account_id`; `bad_request` for a bad nickname; `not_found`
   *   when the owner has no row for the peer
   */
  async setNickname(peer: string, nickname: unknown): Promise<ContactView> {
    const accountId = normalizeAccountId(peer);
    const value = parseNickname(nickname);
    const res = accountId === this.#chat.keys.accountId
      ? undefined
      : await this.#chat.db.updateTable("contacts").set({ nickname: value })
        .where("account_id", "=", accountId).executeTakeFirst();
    if (!res || Number(res.numUpdatedRows) === 0) {
      throw new HearthError("not_found", "No such contact");
    }
    const view = await this.#emitContact(accountId);
    return view!;
  }

  /**
   * A peer's avatar as it last sent it, or null.
   * @throws {HearthError} `bad_account_id`; `not_found` for an unknown peer
   */
  async avatar(peer: string): Promise<Avatar | null> {
    const accountId = normalizeAccountId(peer);
    const row = await this.#chat.db.selectFrom("contacts").select("avatar")
      .where("account_id", "=", accountId).executeTakeFirst();
    if (!row) throw new HearthError("not_found", "No such contact");
    if (!row.avatar) return null;
    const bytes = new Uint8Array(row.avatar);
    const type = sniffAvatarType(bytes);
    return type ? { type, bytes } : null;
  }

  /** Emit a `request` event for a peer's pending request (none when it is not one). */
  emitRequest(accountId: string): void {
    this.requests().then((list) => {
      const request = list.find((r) => r.accountId === accountId);
      if (request) this.#chat.emit({ type: "request", request });
    }, () => {});
  }

  /** Emit `status` events for the owner's messages to a peer that became `failed`. */
  #emitFailed(conversationId: string, ids: string[]): void {
    for (const id of ids) {
      this.#chat.emit({ type: "status", status: { id, conversationId, status: "failed" } });
    }
  }

  /** Emit a `contact` event for a peer. */
  async #emitContact(accountId: string): Promise<ContactView | undefined> {
    const contact = await contactById(this.#chat.db, accountId);
    if (contact) this.#chat.emit({ type: "contact", contact });
    return contact;
  }
}
