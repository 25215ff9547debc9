// The SVG is read back into its module grid (one dark square per <rect>) and
// decoded with @paulmillr/qr's own decoder ("@paulmillr/qr/decode.js"), a
// second code path from the encoder, in two ways:
// - the grid itself, through the decoder's bit-level stage (`decodeBitmap`),
//   for random IDs;
// - the grid rendered as an image at 8 pixels per module, through the full
//   `decodeQR` (finder detection included), for fixed IDs. The image
//   detector misses about 0.5% of perfectly rendered codes (measured over
//   2,500 random IDs; the bit-level stage decoded every one of them), so a
//   random ID there would make the test flaky.
import decodeQR, { _tests as decoderInternals } from "@paulmillr/qr/decode.js";
import { Bitmap } from "@paulmillr/qr";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import { fromHex, randomBytes, signingKeyPairFromSeed } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { formatAccountId, parseAccountId } from "./account_id.ts";
import { accountIdQrSvg, accountIdQrText, QR_QUIET_ZONE } from "./qr.ts";

const PIXELS_PER_MODULE = 8;

/** Fixed account seeds: RFC 8032 §7.1 TEST 1–3 secret keys. */
const FIXED_SEEDS = [
  "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
  "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
  "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
];

async function freshAccountId(): Promise<string> {
  return formatAccountId((await signingKeyPairFromSeed(randomBytes(32))).publicKey);
}

/** The module grid an SVG draws: true where a dark 1×1 rect is. */
function svgToGrid(svg: string): boolean[][] {
  const viewBox = svg.match(/viewBox="0 0 (\d+) (\d+)"/);
  assert(viewBox, "SVG has a viewBox");
  const size = Number(viewBox[1]);
  assertEquals(Number(viewBox[2]), size);
  const grid = Array.from({ length: size }, () => Array<boolean>(size).fill(false));
  for (const m of svg.matchAll(/<rect x="(\d+)" y="(\d+)" width="1" height="1" \/>/g)) {
    grid[Number(m[2])]![Number(m[1])] = true;
  }
  return grid;
}

/** Render a module grid as an RGBA image, dark modules black on white. */
function gridToImage(grid: boolean[][]): { width: number; height: number; data: Uint8Array } {
  const n = grid.length * PIXELS_PER_MODULE;
  const data = new Uint8Array(n * n * 4);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const dark = grid[Math.floor(y / PIXELS_PER_MODULE)]![Math.floor(x / PIXELS_PER_MODULE)];
      const v = dark ? 0 : 255;
      data.set([v, v, v, 255], (y * n + x) * 4);
    }
  }
  return { width: n, height: n, data };
}

Deno.test("the QR code's modules decode back to the Account ID (random IDs)", async () => {
  for (let i = 0; i < 20; i++) {
    const id = await freshAccountId();
    const grid = svgToGrid(accountIdQrSvg(id));
    const inner = grid.slice(QR_QUIET_ZONE, -QR_QUIET_ZONE).map((row) =>
      row.slice(QR_QUIET_ZONE, -QR_QUIET_ZONE)
    );
    const text = decoderInternals.decodeBitmap(new Bitmap(inner.length, inner));
    assertEquals(text, id.toUpperCase());
    assertEquals(parseAccountId(text), parseAccountId(id));
  }
});

Deno.test("the QR code, rendered as an image, scans back to the Account ID (fixed IDs)", async () => {
  for (const seed of FIXED_SEEDS) {
    const id = formatAccountId((await signingKeyPairFromSeed(fromHex(seed))).publicKey);
    const text = decodeQR(gridToImage(svgToGrid(accountIdQrSvg(id))));
    assertEquals(text, id.toUpperCase());
    assertEquals(text, accountIdQrText(id));
    assertEquals(parseAccountId(text), parseAccountId(id));
  }
});

Deno.test("the QR code is version 4 (33×33 modules) with a 4-module quiet zone", async () => {
  const grid = svgToGrid(accountIdQrSvg(await freshAccountId()));
  assertEquals(grid.length, 33 + 2 * QR_QUIET_ZONE);
  for (let i = 0; i < grid.length; i++) {
    for (let q = 0; q < QR_QUIET_ZONE; q++) {
      const far = grid.length - 1 - q;
      assert(!grid[q]![i] && !grid[far]![i] && !grid[i]![q] && !grid[i]![far], "quiet zone");
    }
  }
  // The top-left finder pattern: a 7×7 dark ring just inside the quiet zone.
  const z = QR_QUIET_ZONE;
  for (let k = 0; k < 7; k++) assert(grid[z]![z + k] && grid[z + k]![z] && grid[z + 6]![z + k]);
});

Deno.test("the SVG is self-contained: only <svg> and <rect>, no external reference", async () => {
  const svg = accountIdQrSvg(await freshAccountId());
  const tags = new Set([...svg.matchAll(/<\/?([a-zA-Z:]+)/g)].map((m) => m[1]));
  assertEquals([...tags].sort(), ["rect", "svg"]);
  const urls = [...svg.matchAll(/https?:\/\/[^"]*/g)].map((m) => m[0]);
  assert(urls.every((u) => u === "http://www.w3.org/2000/svg"), urls.join(" "));
  for (const needle of ["href", "url(", "<script", "<image", "<foreignObject", "style"]) {
    assert(!svg.includes(needle), needle);
  }
  assert(svg.includes('<rect width="100%" height="100%" fill="#fff" />'), "white background");
  assert(svg.startsWith("<svg ") && svg.endsWith("</svg>"));
});

Deno.test("the same ID in either case gives the same code; a bad ID is refused", async () => {
  const id = await freshAccountId();
  assertEquals(accountIdQrSvg(id.toUpperCase()), accountIdQrSvg(id));
  const err = assertThrows(
    () => accountIdQrSvg(id.slice(0, -1) + (id.endsWith("q") ? "p" : "q")),
    HearthError,
  );
  assertEquals(err.code, "bad_account_id");
});
