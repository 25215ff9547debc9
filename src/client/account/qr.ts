/**
 * The Account ID as a QR code, for the web UI to show.
 *
 * The code holds the plain Account ID in upper case (`HEARTH1…`), not a
 * `hearth:` URI. Upper case fits QR's alphanumeric mode (5.5 bits per
 * character instead of 8), which makes the code one version smaller
 * (33×33 modules instead of 37×37 at error correction level M), as
 * BIP-173 recommends for bech32 in QR codes. No app registers a `hearth:`
 * scheme, and the ID carries its own `hearth1` prefix, so a URI would add
 * length and nothing else; the plain text also pastes straight into
 * {@link parseAccountId}, which accepts the all-uppercase form.
 * @module
 */
import { encodeQR } from "@paulmillr/qr";
import { formatAccountId, parseAccountId } from "./account_id.ts";

/** The quiet zone around the code, modules (ISO/IEC 18004 asks for 4). */
export const QR_QUIET_ZONE = 4;

/**
 * The text a QR code of an Account ID holds: the ID in upper case.
 * @param accountId a valid Account ID, in either case
 * @returns the upper-case ID
 * @throws {HearthError} `bad_account_id` when the ID does not parse
 */
export function accountIdQrText(accountId: string): string {
  return formatAccountId(parseAccountId(accountId)).toUpperCase();
}

/**
 * An SVG image of the QR code of an Account ID: black modules on a white
 * background (so it scans on a dark page too), with a 4-module quiet
 * zone, scaled by the `viewBox`. It references nothing outside itself.
 * @param accountId a valid Account ID, in either case
 * @returns the SVG document text
 * @throws {HearthError} `bad_account_id` when the ID does not parse
 */
export function accountIdQrSvg(accountId: string): string {
  const svg = encodeQR(accountIdQrText(accountId), "svg", {
    ecc: "medium",
    border: QR_QUIET_ZONE,
  });
  // Paint the background, and keep module edges crisp so no hairline gaps
  // appear between neighbouring modules when the image is scaled.
  const close = svg.indexOf(">") + 1;
  return svg.slice(0, close).replace("<svg ", '<svg shape-rendering="crispEdges" ') +
    '<rect width="100%" height="100%" fill="#fff" />' + svg.slice(close);
}
