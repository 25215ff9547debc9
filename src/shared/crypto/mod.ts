/**
 * The one crypto wrapper of hearth: WebCrypto on hot paths, noble where
 * WebCrypto lacks an algorithm. Nothing outside this folder imports a
 * crypto library directly.
 * @module
 */
export * from "./bytes.ts";
export * from "./hash.ts";
export * from "./kdf.ts";
export * from "./sign.ts";
export * from "./dh.ts";
export * from "./aead.ts";
export * from "./pad.ts";
export * from "./errors.ts";
export * from "./convert.ts";
export * from "./point.ts";
export * from "./scrypt.ts";
