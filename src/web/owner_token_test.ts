import { assert, assertEquals, assertNotEquals } from "../../tests/assert.ts";
import { loadOrCreateOwnerToken, OWNER_TOKEN_PATTERN } from "./owner_token.ts";

Deno.test("the owner token is created once, mode 0600, and stable across restarts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-token-" });
  try {
    const token = await loadOrCreateOwnerToken(`${dir}/data`);
    assert(OWNER_TOKEN_PATTERN.test(token), token);
    const path = `${dir}/data/owner-token`;
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    assertEquals((await Deno.readTextFile(path)).trim(), token);
    assertEquals(await loadOrCreateOwnerToken(`${dir}/data`), token);

    await Deno.chmod(path, 0o644);
    assertEquals(await loadOrCreateOwnerToken(`${dir}/data`), token);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600, "a loose mode is tightened");

    const other = await loadOrCreateOwnerToken(`${dir}/other`);
    assertNotEquals(other, token);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a malformed token file is replaced by a new token", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-token-bad-" });
  try {
    await Deno.writeTextFile(`${dir}/owner-token`, "short\n");
    const token = await loadOrCreateOwnerToken(dir);
    assert(OWNER_TOKEN_PATTERN.test(token), token);
    assertEquals((await Deno.readTextFile(`${dir}/owner-token`)).trim(), token);
    assertEquals((await Deno.stat(`${dir}/owner-token`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
