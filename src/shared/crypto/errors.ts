/**
 * The one error that crypto operations throw on bad or tampered input.
 * Its message never says why, so it leaks nothing about the cause.
 * @module
 */

/** Decryption, key agreement or decoding of key material failed. */
export class CryptoError extends Error {
  constructor() {
    super("Cryptographic operation failed");
    this.name = "CryptoError";
  }
}
