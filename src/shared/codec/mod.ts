/**
 * Wire encodings and limits.
 * @module
 */
export * from "./limits.ts";
export * from "./frame.ts";
export * from "./fields.ts";
