/**
 * Making a text with files fit one envelope: ten thumbnails of 8 KiB do
 * not fit next to a long text, so thumbnails are dropped, last first, until
 * the content is at most {@link CONTENT_BUDGET_BYTES} (room left for a
 * session's prekey message). A recipient shows a file without a thumbnail
 * by its name.
 * @module
 */
import { HearthError } from "../../shared/errors.ts";
import { encodeContent, type MessageContent } from "../messages/content.ts";

/** The most bytes a text with files may encode to (under a prekey message's 75,429). */
export const CONTENT_BUDGET_BYTES = 74_000;

/**
 * The content, with as many thumbnails dropped (last first) as it takes to fit.
 * @throws {HearthError} `too_large` when it does not fit even without thumbnails; what
 *   encodeContent throws for a bad field
 */
export function fitThumbnails(content: MessageContent): MessageContent {
  let c = content;
  for (;;) {
    if (fits(c)) return c;
    if (c.type !== "text" || !c.attachments) break;
    const refs = c.attachments;
    const last = refs.findLastIndex((r) => r.thumbnail !== undefined);
    if (last < 0) break;
    const { thumbnail: _, ...bare } = refs[last]!;
    c = { ...c, attachments: refs.map((r, i) => i === last ? bare : r) };
  }
  throw new HearthError("too_large", "Message is too large");
}

function fits(content: MessageContent): boolean {
  try {
    return encodeContent(content).length <= CONTENT_BUDGET_BYTES;
  } catch (err) {
    if (err instanceof HearthError && err.code === "too_large") return false;
    throw err;
  }
}
