/**
 * The owner API on a real node process: the token file, account creation
 * over HTTP, the owner's avatar as raw bytes, the separation of the web
 * port from the relay port, and the messaging routes under fuzzed input.
 */
import { assert, assertEquals } from "./assert.ts";
import { ownerRoutes, sessionRoutes } from "./fuzz_owner_routes.ts";
import { freePort, spawnNode } from "../tools/devnet_lib.ts";
import { parseAccountId } from "../src/client/account/mod.ts";
import { toBase64 } from "../src/shared/crypto/bytes.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

Deno.test({
  name: "a node serves the owner API on its web port only, behind the owner token",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hearth-owner-api-" });
    const webPort = freePort();
    const node = await spawnNode({ dataDir: dir, port: freePort(), webPort, powBits: 8 });
    try {
      assertEquals(node.webAddr, `127.0.0.1:${webPort}`);
      const token = (await Deno.readTextFile(`${dir}/owner-token`)).trim();
      assertEquals(token, node.ownerToken);
      assertEquals((await Deno.stat(`${dir}/owner-token`)).mode! & 0o777, 0o600);
      const web = `http://${node.webAddr}`;
      const auth = { authorization: `Bearer ${token}` };
      const log = await Deno.readTextFile(node.logPath);
      assert(log.includes(`hearth: web port http://${node.webAddr}`), log);
      assert(log.includes(`${dir}/owner-token`), log);
      // The one-time sign-in link: printed once, on the start-up lines only.
      const link = new RegExp(`hearth: open (http://${node.webAddr}/login\\?token=([0-9a-f]{64}))`)
        .exec(log);
      assert(link, log);
      assertEquals(log.split(link[2]!).length, 2, "the link's token appears once");
      assert(
        !log.split("\n").some((l) => /^(INFO|WARN|ERROR|DEBUG) /.test(l) && l.includes(link[2]!)),
      );
      const signIn = await fetch(link[1]!, { redirect: "manual" });
      assertEquals(signIn.status, 303);
      await signIn.body?.cancel();
      const cookie = signIn.headers.get("set-cookie")!.split(";")[0]!;
      const viaCookie = await fetch(`http://${node.webAddr}/api/status`, { headers: { cookie } });
      assertEquals(viaCookie.status, 200);
      await viaCookie.body?.cancel();
      const reused = await fetch(link[1]!, { redirect: "manual" });
      assertEquals(reused.status, 401);
      await reused.body?.cancel();

      const denied = await fetch(`${web}/api/status`);
      assertEquals([denied.status, (await denied.json()).error], [401, "unauthorized"]);

      const before = await (await fetch(`${web}/api/status`, { headers: auth })).json();
      assertEquals(before.account, "absent");
      const info = await fetch(`http://${node.addr}/v1/info`);
      assertEquals(info.status, 200);
      const relayInfo = await info.json();
      assertEquals(before.node.directorySize, relayInfo.directorySize);
      assertEquals(before.node.id, relayInfo.id.slice(0, 16));
      assertEquals(typeof before.node.reachable, "boolean");

      const created = await fetch(`${web}/api/account`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ passphrase: "process test passphrase", displayName: "Node owner" }),
      });
      assertEquals(created.status, 201);
      assertEquals(created.headers.get("cache-control"), "no-store");
      const { accountId, recoveryPhrase } = await created.json();
      assertEquals(parseAccountId(accountId).length, 32);
      assertEquals(recoveryPhrase.split(" ").length, 24);
      const account = await (await fetch(`${web}/api/account`, { headers: auth })).json();
      assertEquals([account.accountId, account.displayName], [accountId, "Node owner"]);
      assertEquals(account.hasAvatar, false);

      const patched = await fetch(`${web}/api/account`, {
        method: "PATCH",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ avatar: toBase64(PNG) }),
      });
      assertEquals([patched.status, (await patched.json()).hasAvatar], [200, true]);
      const avatar = await fetch(`${web}/api/account/avatar`, { headers: auth });
      assertEquals(avatar.status, 200);
      assertEquals(avatar.headers.get("content-type"), "image/png");
      assertEquals(avatar.headers.get("cache-control"), "no-store");
      assertEquals(avatar.headers.get("x-content-type-options"), "nosniff");
      assertEquals(new Uint8Array(await avatar.arrayBuffer()), PNG);
      const after = await (await fetch(`${web}/api/status`, { headers: auth })).json();
      assertEquals(after.account, "unlocked");
      assert((await Deno.stat(`${dir}/client/client_key.json`)).isFile);

      const infoAgain = await fetch(`http://${node.addr}/v1/info`);
      assertEquals([infoAgain.status, (await infoAgain.json()).id], [200, relayInfo.id]);
      const apiOnRelay = await fetch(`http://${node.addr}/api/status`, { headers: auth });
      assertEquals(apiOnRelay.status, 404);
      await apiOnRelay.body?.cancel();
      const relayOnWeb = await fetch(`${web}/v1/info`);
      assertEquals(relayOnWeb.status, 404);
      await relayOnWeb.body?.cancel();

      const status = await node.stop();
      assertEquals(status.code, 0);
    } finally {
      await node.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "the owner API's messaging routes refuse fuzzed input with a stable code, and keep data",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hearth-owner-fuzz-" });
    const node = await spawnNode({ dataDir: dir, port: freePort(), powBits: 8 });
    try {
      await ownerRoutes(node);
      await sessionRoutes(node, { passphrase: "fuzzed owner passphrase" });
      assertEquals((await node.stop()).code, 0);
    } finally {
      await node.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
