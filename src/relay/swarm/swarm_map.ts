/**
 * The swarm mapping lives in src/shared (clients compute swarms too);
 * relay code imports it from here.
 * @module
 */
export { swarmFor, swarmKeyOf, writeQuorum } from "../../shared/swarm_map.ts";
export type { HasNodeId } from "../../shared/swarm_map.ts";
