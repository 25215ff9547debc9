/**
 * Onion routing shared by the client and the relay: layer keys, routing
 * blocks and packet building (docs/PROTOCOL.md §7).
 * @module
 */
export * from "./layer_keys.ts";
export * from "./routing.ts";
export * from "./build.ts";
