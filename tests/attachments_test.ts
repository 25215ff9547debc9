/**
 * A 20 MB file between two accounts on a real devnet of node processes,
 * through the owner API: uploaded as a streamed multipart body, sent in a
 * message, fetched on the other node through the network (every chunk
 * through onion paths, checked against its key and tag), and streamed back
 * byte-identical (SHA-256 compared on the fly, nothing buffered whole). The
 * resident memory of both node processes is sampled during the transfer
 * and must stay bounded. Prints the times and the peak RSS.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { readProcFile } from "../bench/process_metrics.ts";
import { assert, assertEquals } from "./assert.ts";
import { type NodeProcess, ownerApi, waitFor, withDevnet } from "../tools/devnet_lib.ts";
import { toHex } from "../src/shared/crypto/mod.ts";

const PASS = "attachments test passphrase";
const FILE_BYTES = 20 * 1024 * 1024;
/** A generous bound for a slow 2-core machine. */
const MAX_RSS_BYTES = 400 * 1024 * 1024;
const WAIT = { timeoutMs: 300_000, intervalMs: 250 };
const BOUNDARY = "hearthDevnetBoundary";

async function createAccount(node: NodeProcess, name: string): Promise<string> {
  const res = await ownerApi(node, "POST", "/api/account", { passphrase: PASS, displayName: name });
  assertEquals(res.status, 201);
  return res.json.accountId as string;
}

/** VmRSS and VmHWM of a process, bytes. */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number }> {
  // Deno reads /proc only with --allow-all; the test task does not grant it.
  const status = await readProcFile(`/proc/${pid}/status`) ?? "";
  const kb = (field: string) =>
    Number(status.match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? 0);
  return { rss: kb("VmRSS") * 1024, hwm: kb("VmHWM") * 1024 };
}

/** Pseudo-random file bytes, made and hashed as they are sent (never held whole). */
function fileStream(size: number, hash: ReturnType<typeof sha256.create>) {
  const enc = new TextEncoder();
  const head = enc.encode(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = enc.encode(`\r\n--${BOUNDARY}--\r\n`);
  let sent = -1;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent === -1) {
        sent = 0;
        return c.enqueue(head);
      }
      if (sent >= size) {
        c.enqueue(tail);
        return c.close();
      }
      const n = Math.min(65_536, size - sent);
      const piece = crypto.getRandomValues(new Uint8Array(n));
      hash.update(piece);
      sent += n;
      c.enqueue(piece);
    },
  });
}

Deno.test({
  name: "a 20 MB file goes from one account to another through the devnet, byte-identical",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withDevnet(5, async (devnet) => {
      const nodeA = devnet.nodes[1]!;
      const nodeB = devnet.nodes[2]!;
      await createAccount(nodeA, "Alice");
      const bob = await createAccount(nodeB, "Bob");
      await waitFor(async () => {
        const log = await Deno.readTextFile(nodeB.logPath).catch(() => "");
        return log.includes("prekeys_published");
      }, { ...WAIT, what: "Bob's prekey bundle published" });

      const pids: (number | undefined)[] = [nodeA.pid, nodeB.pid];
      const before = await Promise.all(pids.map((p) => p ? memoryOf(p) : { rss: 0, hwm: 0 }));
      const peak = [0, 0];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          for (const [i, pid] of pids.entries()) {
            if (pid !== undefined) peak[i] = Math.max(peak[i]!, (await memoryOf(pid)).rss);
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      })();

      try {
        // Upload: a streamed multipart body, hashed as it goes.
        const sent = sha256.create();
        const t0 = performance.now();
        const res = await fetch(`http://${nodeA.webAddr}/api/attachments`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${nodeA.ownerToken}`,
            "content-type": `multipart/form-data; boundary=${BOUNDARY}`,
          },
          body: fileStream(FILE_BYTES, sent),
          signal: AbortSignal.timeout(WAIT.timeoutMs),
        });
        const file = await res.json();
        assertEquals(res.status, 201, JSON.stringify(file));
        assertEquals(file.size, FILE_BYTES);
        const tStored = performance.now();
        await waitFor(async () => {
          const info = await ownerApi(nodeA, "GET", `/api/attachments/${file.id}/info`);
          assert(info.json.state !== "failed", JSON.stringify(info.json));
          return info.json.state === "uploaded";
        }, { ...WAIT, what: "the upload" });
        const tUploaded = performance.now();
        const msg = await ownerApi(nodeA, "POST", "/api/messages", {
          to: bob,
          text: "a big one",
          attachments: [file.id],
        });
        assertEquals(msg.status, 201, JSON.stringify(msg.json));

        // Bob gets the message (a request) with the file, still remote.
        let fileId = "";
        await waitFor(async () => {
          const r = await ownerApi(nodeB, "GET", `/api/conversations/${msg.json.sender}/messages`);
          const list = (r.json.messages ?? []) as { attachments: { id: string }[] }[];
          fileId = list[0]?.attachments[0]?.id ?? "";
          return fileId !== "";
        }, { ...WAIT, what: "Bob's message with the file" });
        const tReceived = performance.now();

        // Download through the network and stream it back, hashed on the fly.
        const got = await fetch(`http://${nodeB.webAddr}/api/attachments/${fileId}`, {
          headers: { authorization: `Bearer ${nodeB.ownerToken}` },
          signal: AbortSignal.timeout(WAIT.timeoutMs),
        });
        assertEquals(got.status, 200);
        assertEquals(got.headers.get("content-length"), String(FILE_BYTES));
        assertEquals(got.headers.get("content-type"), "application/octet-stream");
        const received = sha256.create();
        let bytes = 0;
        for await (const piece of got.body!) {
          received.update(piece);
          bytes += piece.length;
        }
        const tDone = performance.now();
        assertEquals(bytes, FILE_BYTES);
        assertEquals(toHex(received.digest()), toHex(sent.digest()));
        const info = await ownerApi(nodeB, "GET", `/api/attachments/${fileId}/info`);
        assertEquals([info.json.state, info.json.done], ["complete", FILE_BYTES]);

        sampling = false;
        await sampler;
        const hwm = await Promise.all(pids.map((p) => p ? memoryOf(p) : { rss: 0, hwm: 0 }));
        const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
        console.log(
          `20 MB: stored locally ${((tStored - t0) / 1000).toFixed(1)} s, uploaded ` +
            `${((tUploaded - t0) / 1000).toFixed(1)} s, received ` +
            `${((tReceived - tUploaded) / 1000).toFixed(1)} s, downloaded and read ` +
            `${((tDone - tReceived) / 1000).toFixed(1)} s; total ${
              ((tDone - t0) / 1000).toFixed(1)
            } s`,
        );
        console.log(
          `RSS before: sender ${mb(before[0]!.rss)} MB, recipient ${mb(before[1]!.rss)} MB; ` +
            `peak RSS sampled: sender ${mb(peak[0]!)} MB, recipient ${mb(peak[1]!)} MB; ` +
            `VmHWM: sender ${mb(hwm[0]!.hwm)} MB, recipient ${mb(hwm[1]!.hwm)} MB`,
        );
        for (const [i, pid] of pids.entries()) {
          assert(pid !== undefined, "node process found");
          assert(peak[i]! > 0 && peak[i]! < MAX_RSS_BYTES, `node ${i} peak RSS ${mb(peak[i]!)} MB`);
          assert(hwm[i]!.hwm < MAX_RSS_BYTES, `node ${i} VmHWM ${mb(hwm[i]!.hwm)} MB`);
          // The transfer itself adds a few chunks per request in flight, not the file.
          assert(
            peak[i]! - before[i]!.rss < 150 * 1024 * 1024,
            `node ${i} grew ${mb(peak[i]! - before[i]!.rss)} MB`,
          );
        }
      } finally {
        sampling = false;
        await sampler;
      }
    });
  },
});
