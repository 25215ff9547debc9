/**
 * Helpers shared by the vault's tests (and the child process one of them
 * starts). Not used outside tests.
 * @module
 */
import { bytesEqual } from "../../shared/crypto/bytes.ts";
import { ClientVault } from "./vault.ts";

/** Small scrypt parameters for tests (1 MiB); one test checks the strong defaults. */
export const TEST_KDF = { N: 1024, r: 8, p: 1 };

/** The passphrase the helpers create vaults with. */
export const TEST_PASS = "correct horse battery staple";

/**
 * Create a vault in `dir` holding an account row (seed, `marker` as its
 * display name) and a message whose body holds `marker`; left unlocked.
 * @param dir the data directory
 * @param options.marker a string to look for on disk
 * @param options.seed the account seed to store
 */
export async function createWithData(
  dir: string,
  options: { marker: string; seed: Uint8Array },
): Promise<ClientVault> {
  const { marker, seed } = options;
  const vault = await ClientVault.open(dir, { kdfParams: TEST_KDF });
  await vault.create(TEST_PASS);
  await vault.db.insertInto("account")
    .values({ id: 1, seed, display_name: marker, created_at: 1 })
    .execute();
  await vault.db.insertInto("messages").values({
    id: "m1",
    conversation_id: "self",
    direction: "out",
    sender: "me",
    sent_at: 2,
    received_at: null,
    body_json: JSON.stringify({ text: marker }),
    status: "queued",
    reply_to: null,
    edited_at: null,
    expires_at: null,
  }).execute();
  return vault;
}

/**
 * The name of a file of `dir` in which `needle` occurs, or null. Files that
 * vanish while it reads (a -wal removed by a late close) are skipped.
 * @param dir the directory to search, not recursively
 * @param needle the bytes to find
 */
export async function fileContaining(dir: string, needle: Uint8Array): Promise<string | null> {
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile) continue;
    let data: Uint8Array;
    try {
      data = await Deno.readFile(`${dir}/${entry.name}`);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    for (let i = 0; i + needle.length <= data.length; i++) {
      if (data[i] === needle[0] && bytesEqual(data.subarray(i, i + needle.length), needle)) {
        return entry.name;
      }
    }
  }
  return null;
}

/**
 * Run {@link createWithData} in a child Deno process, then close it, so that
 * no connection of this process has ever had the database open.
 * @param dir the data directory
 * @param options.marker a string to look for on disk
 * @param options.seed the account seed to store
 */
export async function createInChildProcess(
  dir: string,
  options: { marker: string; seed: Uint8Array },
): Promise<void> {
  const script = await Deno.makeTempFile({ prefix: "hearth-vault-child-", suffix: ".ts" });
  try {
    const helpers = new URL("./_test_helpers.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { createWithData } from ${JSON.stringify(helpers)};
const [dir, marker, seed] = Deno.args;
const vault = await createWithData(dir, { marker, seed: Uint8Array.from(JSON.parse(seed)) });
await vault.close();
// libsql's native statements can hold the event loop open after the
// database is closed, so leave explicitly once everything is on disk.
Deno.exit(0);
`,
    );
    const config = new URL("../../../deno.json", import.meta.url).pathname;
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        config,
        script,
        dir,
        options.marker,
        JSON.stringify([
          ...options.seed,
        ]),
      ],
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    if (code !== 0) throw new Error(`Child process failed: ${new TextDecoder().decode(stderr)}`);
  } finally {
    await Deno.remove(script);
  }
}
