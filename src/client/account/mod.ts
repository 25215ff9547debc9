/**
 * The account identity: the seed and its 24-word recovery phrase, the keys
 * derived from it, the checksummed Account ID and its QR code, and the
 * profile shown to contacts.
 * @module
 */
export * from "./seed.ts";
export * from "./keys.ts";
export * from "./account_id.ts";
export * from "./qr.ts";
export * from "./profile.ts";
