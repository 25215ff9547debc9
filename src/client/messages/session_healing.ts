/**
 * What the chat does when a peer's session breaks, for {@link ChatService}:
 * a session message from the peer that does not decrypt makes the owner
 * ask for a reset (a `session-reset`, sealed alone), and a reset from the
 * peer makes the owner re-send its undelivered texts
 * (sessions/session_reset.ts). Neither fails the receiver: a failure is
 * logged and the peer asks again later.
 * @module
 */
import type { Logger } from "../../shared/log.ts";
import { resendUndelivered } from "../sessions/session_reset.ts";
import type { ChatContext } from "./chat_actions.ts";
import { newMessageId } from "./content.ts";

/**
 * Ask a peer whose session message did not decrypt for a reset (sealed alone).
 * @param chat the running chat
 * @param peer the peer's Account ID
 * @param options.log gets a warning when the request could not be queued
 */
export async function askSessionReset(
  chat: ChatContext,
  peer: string,
  options: { log: Logger },
): Promise<void> {
  try {
    await chat.sealer.queueControl(peer, { type: "session-reset", id: newMessageId() }, {
      sealedOnly: true,
    });
  } catch {
    // Never holds up the items behind it; the next failure asks again (after the hour).
    options.log.warn("session_reset_not_queued");
  }
}

/**
 * After a peer's session reset: re-send the owner's undelivered texts to it.
 * @param chat the running chat
 * @param peer the peer's Account ID
 * @param options.log gets a warning when the texts could not be re-sent
 */
export async function resendAfterReset(
  chat: ChatContext,
  peer: string,
  options: { log: Logger },
): Promise<void> {
  const { db, clock, sealer, emit, kick } = chat;
  try {
    const changes = await resendUndelivered(sealer, peer, { db, now: clock() });
    for (const status of changes) emit({ type: "status", status });
    kick();
  } catch {
    // The reset is committed: the texts stay as they were (the peer asks again later).
    options.log.warn("session_resend_failed");
  }
}
