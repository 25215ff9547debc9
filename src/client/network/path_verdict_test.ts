import { assertEquals } from "../../../tests/assert.ts";
import { HearthError } from "../../shared/errors.ts";
import { judgePath, type PathVerdict } from "./path_verdict.ts";

const failed = (hop: number | undefined): PathVerdict => ({ kind: "failed", hop });
const carried = (destinationFailed: boolean): PathVerdict => ({
  kind: "carried",
  destinationFailed,
});
const unknown: PathVerdict = { kind: "unknown" };

Deno.test("judgePath blames the hop that could not be reached, not the one that said so", () => {
  const err = (code: "hop_failed" | "timeout" | "unknown_hop", hop?: number) =>
    new HearthError(code, "x", hop === undefined ? undefined : { hop });
  const cases: [HearthError, boolean, PathVerdict][] = [
    // The client's own fetch to the guard failed or timed out: the guard.
    [err("hop_failed", 0), false, failed(0)],
    [err("timeout", 0), false, failed(0)],
    // A sealed answer: hop h could not reach hop h + 1.
    [err("hop_failed", 0), true, failed(1)],
    [err("timeout", 1), true, failed(2)],
    [err("unknown_hop", 0), true, failed(1)],
    // The exit could not reach the destination: the relays did their job.
    [err("hop_failed", 2), true, carried(true)],
    [err("timeout", 2), true, carried(true)],
    // The destination itself (an unknown remote code reads as hop_failed).
    [err("hop_failed", 3), true, carried(true)],
    [err("hop_failed"), true, failed(undefined)],
  ];
  for (const [e, sealed, want] of cases) {
    assertEquals(
      judgePath(e, { relays: 3, sealed }),
      want,
      `${e.code} ${e.details?.hop} ${sealed}`,
    );
  }
});

Deno.test("judgePath: destination errors are not path failures; plain refusals by the guard are", () => {
  const at = (code: ConstructorParameters<typeof HearthError>[0], hop?: number) =>
    new HearthError(code, "x", hop === undefined ? undefined : { hop });
  const cases: [HearthError, boolean, PathVerdict][] = [
    [at("wrong_swarm", 3), true, carried(false)],
    [at("not_durable", 3), true, carried(true)],
    [at("bad_signature", 3), true, carried(true)],
    [at("unavailable", 3), true, carried(true)],
    // A relay shutting down while forwarding, or the guard refusing in plain HTTP.
    [at("unavailable", 1), true, failed(1)],
    [at("unavailable", 0), false, failed(0)],
    [at("decrypt_failed", 0), false, failed(0)],
    // The answer did not open, or the destination could not open the body: tagging.
    [at("decrypt_failed"), true, failed(undefined)],
    [at("decrypt_failed", 3), true, failed(undefined)],
    // About this client, not the path.
    [at("rate_limited", 0), false, unknown],
    [at("bad_timestamp", 0), false, unknown],
    [at("replay", 0), false, unknown],
    [at("bad_request", 1), true, unknown],
  ];
  for (const [e, sealed, want] of cases) {
    assertEquals(
      judgePath(e, { relays: 3, sealed }),
      want,
      `${e.code} ${e.details?.hop} ${sealed}`,
    );
  }
  assertEquals(judgePath(new RangeError("x"), { relays: 3, sealed: false }), unknown);
  // A hop index out of range is ignored.
  assertEquals(
    judgePath(new HearthError("hop_failed", "x", { hop: 9 }), { relays: 3, sealed: true }),
    failed(undefined),
  );
});
