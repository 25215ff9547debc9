/**
 * File transfer through onion paths on a devnet, through the owner API:
 * A uploads a file (`POST /api/attachments`, streamed multipart) until its
 * `uploaded` event (every chunk acknowledged by W members of its swarm),
 * sends it to B, and B reads it back (`GET /api/attachments/{id}`, which
 * downloads it through the network first). Next to it, the raw AES-256-GCM
 * speed of this machine on the same chunks: the floor no transfer can beat.
 * @module
 */
import { aesGcmSeal } from "../src/shared/crypto/aead.ts";
import { randomBytes, toHex } from "../src/shared/crypto/bytes.ts";
import type { NodeProcess } from "../tools/devnet_lib.ts";
import { type EventLog, ownerApi } from "./owner_api.ts";
import { median, round } from "./stats.ts";

/** What {@link measureFileTransfer} measured. */
export interface FileTransferResult {
  /** The file's size, bytes. */
  bytes: number;
  /** POST until the `uploaded` event, ms (local store, encryption, every chunk stored). */
  uploadMs: number;
  /** Upload throughput, MB/s (10^6 bytes). */
  uploadMBps: number;
  /** B's GET (download through the network, verify, store, stream) until the last byte, ms. */
  downloadMs: number;
  /** Download throughput, MB/s. */
  downloadMBps: number;
  /** Raw AES-256-GCM sealing of the same bytes in 64 KiB chunks on this machine, MB/s (median of 5 passes, right after the transfer). */
  rawAeadMBps: number;
  /** Whether B's bytes equal A's (SHA-256). */
  identical: boolean;
}

const CHUNK = 65_536;
const WAIT_MS = 120_000;

/** A deterministic-size stream of random bytes, hashed as it goes. */
function randomFile(size: number, digest: { parts: Uint8Array[] }): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) {
        controller.close();
        return;
      }
      const n = Math.min(CHUNK, size - sent);
      const part = randomBytes(n);
      digest.parts.push(part);
      sent += n;
      controller.enqueue(part);
    },
  });
}

/** SHA-256 of parts, as hex, without holding a second copy. */
async function sha256Of(parts: Uint8Array[]): Promise<string> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", all)));
}

/** Passes of the raw AEAD reference; their median is kept (one pass of 20 MB takes ~40 ms). */
const RAW_PASSES = 5;

/** Raw AES-256-GCM over `bytes` in 64 KiB chunks, MB/s: the median of {@link RAW_PASSES} passes. */
async function rawAead(bytes: number): Promise<number> {
  const key = randomBytes(32);
  const chunk = randomBytes(CHUNK);
  const nonce = new Uint8Array(12);
  const rates: number[] = [];
  for (let pass = 0; pass < RAW_PASSES; pass++) {
    const t0 = performance.now();
    for (let done = 0; done < bytes; done += CHUNK) {
      new DataView(nonce.buffer).setUint32(8, done / CHUNK);
      await aesGcmSeal(key, nonce, chunk);
    }
    rates.push(bytes / 1e6 / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

/**
 * Upload a random file of `bytes` on A, send it to B, read it on B.
 * @param a A's node, with `eventsA` its open event stream
 * @param b B's node, with `eventsB` its open event stream
 * @param bob B's Account ID (a contact of A)
 * @throws {Error} when a step is refused or does not finish in time
 */
export async function measureFileTransfer(
  a: NodeProcess,
  eventsA: EventLog,
  b: NodeProcess,
  eventsB: EventLog,
  bob: string,
  bytes: number,
): Promise<FileTransferResult> {
  const digest = { parts: [] as Uint8Array[] };
  const boundary = `hearth-bench-${toHex(randomBytes(8))}`;
  const head = new TextEncoder().encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
  const file = randomFile(bytes, digest);
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(head);
      for await (const part of file) controller.enqueue(part);
      controller.enqueue(tail);
      controller.close();
    },
  });
  const t0 = performance.now();
  const res = await fetch(`http://${a.webAddr}/api/attachments`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${a.ownerToken}`,
      "content-type": `multipart/form-data; boundary=${boundary}`,
    },
    body,
  });
  const created = await res.json();
  if (res.status !== 201) throw new Error(`POST /api/attachments answered ${res.status}`);
  const id = created.id as string;
  const uploaded = await eventsA.waitFor(
    (e) => e.event === "attachment" && e.data.id === id && e.data.state === "uploaded",
    WAIT_MS,
  );
  const uploadMs = uploaded.at - t0;

  const sent = await ownerApi(a, "POST", "/api/messages", { to: bob, attachments: [id] });
  if (sent.status !== 201) throw new Error(`POST /api/messages answered ${sent.status}`);
  const got = await eventsB.waitFor(
    (e) => e.event === "message" && e.data.id === sent.json.id,
    WAIT_MS,
  );
  const remote = (got.data.attachments as { id: string }[])[0]!.id;

  const t1 = performance.now();
  const read = await fetch(`http://${b.webAddr}/api/attachments/${remote}`, {
    headers: { authorization: `Bearer ${b.ownerToken}` },
    signal: AbortSignal.timeout(WAIT_MS),
  });
  if (read.status !== 200 || !read.body) {
    await read.body?.cancel();
    throw new Error(`GET /api/attachments answered ${read.status}`);
  }
  const received: Uint8Array[] = [];
  for await (const part of read.body) received.push(part);
  const downloadMs = performance.now() - t1;
  const identical = (await sha256Of(received)) === (await sha256Of(digest.parts));
  return {
    bytes,
    uploadMs: round(uploadMs),
    uploadMBps: round(bytes / 1e6 / (uploadMs / 1000)),
    downloadMs: round(downloadMs),
    downloadMBps: round(bytes / 1e6 / (downloadMs / 1000)),
    rawAeadMBps: round(await rawAead(bytes)),
    identical,
  };
}
