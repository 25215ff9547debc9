/**
 * The owner API's group routes over a real messenger (encrypted client
 * database, no network): create, list, read, rename, picture, members,
 * join/decline/leave, and the stable error codes of bad input.
 */
import { assert, assertEquals } from "./assert.ts";
import { generateSigningKeyPair, toBase64 } from "../src/shared/crypto/mod.ts";
import { formatAccountId } from "../src/client/account/mod.ts";
import { ownerRequest, TEST_PASSPHRASE, withWebApp } from "../src/web/test_web_app.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

async function someone(): Promise<string> {
  return formatAccountId((await generateSigningKeyPair()).publicKey);
}

Deno.test("group routes: create, read, rename, picture, members, and bad input", async () => {
  await withWebApp(async ({ app, messenger }) => {
    await messenger.createAccount({ passphrase: TEST_PASSPHRASE, displayName: "Ada" });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await ownerRequest(
        app,
        method,
        path,
        body === undefined ? {} : {
          body: typeof body === "string" ? body : JSON.stringify(body),
        },
      );
      const type = res.headers.get("content-type") ?? "";
      return {
        status: res.status,
        json: type.startsWith("application/json") ? await res.json() : null,
        bytes: type.startsWith("image/") ? new Uint8Array(await res.arrayBuffer()) : null,
      };
    };
    const [bob, carol, dave] = [await someone(), await someone(), await someone()];
    const created = await call("POST", "/api/groups", { name: "Club", members: [bob, carol] });
    assertEquals(created.status, 201);
    const id = created.json.id as string;
    assert(id.startsWith("hearthg1"));
    assertEquals(
      [created.json.name, created.json.state, created.json.admin, created.json.memberCount],
      ["Club", "joined", true, 3],
    );
    assertEquals(created.json.members[0], {
      accountId: messenger.account().accountId,
      admin: true,
      displayName: "Ada",
    });
    assertEquals((await call("GET", "/api/groups")).json.groups.length, 1);
    assertEquals((await call("GET", `/api/groups/${id.toUpperCase()}`)).json.id, id);
    // The group conversation lists with the group's name.
    const conversations = (await messenger.chat().conversations()).filter((c) => c.id === id);
    assertEquals([conversations[0]?.kind, conversations[0]?.displayName], ["group", "Club"]);

    const renamed = await call("PATCH", `/api/groups/${id}`, {
      name: "Hearth club",
      picture: toBase64(PNG),
    });
    assertEquals([renamed.status, renamed.json.name, renamed.json.hasPicture], [
      200,
      "Hearth club",
      true,
    ]);
    const picture = await call("GET", `/api/groups/${id}/picture`);
    assertEquals([picture.status, picture.bytes], [200, PNG]);
    assertEquals(
      (await call("PATCH", `/api/groups/${id}`, { picture: null })).json.hasPicture,
      false,
    );
    assertEquals((await call("GET", `/api/groups/${id}/picture`)).status, 404);

    const added = await call("POST", `/api/groups/${id}/members`, { accountId: dave });
    assertEquals([added.status, added.json.memberCount], [200, 4]);
    const promoted = await call("PATCH", `/api/groups/${id}`, { admins: [dave] });
    assertEquals(
      promoted.json.members.find((m: { accountId: string }) => m.accountId === dave).admin,
      true,
    );
    const removed = await call("DELETE", `/api/groups/${id}/members/${carol}`);
    assertEquals([removed.status, removed.json.memberCount], [200, 3]);
    assertEquals((await call("POST", `/api/groups/${id}/join`)).status, 200);

    const errors: [string, string, unknown, number, string][] = [
      ["POST", "/api/groups", { members: [] }, 400, "bad_request"],
      ["POST", "/api/groups", { name: "", members: [] }, 400, "bad_request"],
      ["POST", "/api/groups", { name: "x".repeat(65), members: [] }, 400, "bad_request"],
      ["POST", "/api/groups", { name: "x", members: "nope" }, 400, "bad_request"],
      ["POST", "/api/groups", { name: "x", members: ["hearth1nope"] }, 400, "bad_account_id"],
      [
        "POST",
        "/api/groups",
        { name: "x", members: [messenger.account().accountId] },
        400,
        "bad_request",
      ],
      ["POST", "/api/groups", "not json", 400, "bad_request"],
      ["GET", "/api/groups/hearthg1nope", undefined, 400, "bad_request"],
      [
        "GET",
        `/api/groups/${id.slice(0, -1)}${id.endsWith("q") ? "p" : "q"}`,
        undefined,
        400,
        "bad_request",
      ],
      [
        "GET",
        `/api/groups/${
          formatAccountId((await generateSigningKeyPair()).publicKey).replace("hearth1", "hearthg1")
            .slice(0, 66)
        }`,
        undefined,
        400,
        "bad_request",
      ],
      ["POST", `/api/groups/${id}/decline`, undefined, 409, "conflict"],
      ["POST", `/api/groups/${id}/members`, { accountId: bob }, 409, "conflict"],
      ["POST", `/api/groups/${id}/members`, {}, 400, "bad_request"],
      ["DELETE", `/api/groups/${id}/members/${carol}`, undefined, 404, "not_found"],
      ["DELETE", `/api/groups/${id}/members/nope`, undefined, 400, "bad_account_id"],
      ["PATCH", `/api/groups/${id}`, { colour: "red" }, 400, "bad_request"],
      ["PATCH", `/api/groups/${id}`, { picture: "%%%" }, 400, "bad_encoding"],
      [
        "PATCH",
        `/api/groups/${id}`,
        { picture: toBase64(new Uint8Array(9_000)) },
        413,
        "too_large",
      ],
      [
        "PATCH",
        `/api/groups/${id}`,
        { picture: toBase64(new Uint8Array(100)) },
        400,
        "bad_request",
      ],
      ["PATCH", `/api/groups/${id}`, { admins: [carol] }, 400, "bad_request"],
      ["POST", `/api/groups/${id}/frobnicate`, undefined, 404, "not_found"],
    ];
    for (const [method, path, body, status, code] of errors) {
      const res = await call(method, path, body);
      assertEquals(
        [res.status, res.json?.error],
        [status, code],
        `${method} ${path}`,
      );
    }
    const hundred: string[] = [];
    for (let i = 0; i < 100; i++) hundred.push(await someone());
    const full = await call("POST", "/api/groups", { name: "Big", members: hundred });
    assertEquals(full.status, 409);
    const left = await call("POST", `/api/groups/${id}/leave`);
    assertEquals([left.status, left.json.state], [200, "left"]);
    assertEquals((await call("POST", `/api/groups/${id}/leave`)).status, 409);
  });
});
