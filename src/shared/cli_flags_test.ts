import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { defaultDataDir, FlagError, parseFlags } from "./cli_flags.ts";

Deno.test("parseFlags gives the documented defaults", () => {
  const o = parseFlags([]);
  assertEquals(o.listen, { host: "0.0.0.0", port: 7000 });
  assertEquals(o.web, { host: "127.0.0.1", port: 7080 });
  assertEquals(o.publicAddr, undefined);
  assertEquals(o.seeds, []);
  assertEquals(o.powBits, 20);
  assertEquals(o.rateLimit, { ratePerSecond: 300, burst: 600 });
  assertEquals(o.localNet, true);
  assertEquals(o.maxFileMb, undefined);
});

Deno.test("parseFlags reads every flag, repeated seeds and --flag=value", () => {
  const o = parseFlags([
    "--data-dir",
    "/tmp/x",
    "--listen=127.0.0.1:0",
    "--public-addr",
    "node.example.org:7000",
    "--web",
    "[::1]:8080",
    "--seed",
    "10.0.0.1:7000",
    "--seed=seed.example.org:7001",
    "--pow-bits",
    "8",
    "--rate-limit",
    "off",
    "--log-level",
    "debug",
    "--no-local-net",
    "--max-file-mb",
    "250",
  ]);
  assertEquals(o.dataDir, "/tmp/x");
  assertEquals(o.listen, { host: "127.0.0.1", port: 0 });
  assertEquals(o.publicAddr, { host: "node.example.org", port: 7000 });
  assertEquals(o.web, { host: "::1", port: 8080 });
  assertEquals(o.seeds.length, 2);
  assertEquals(o.powBits, 8);
  assertEquals(o.rateLimit, null);
  assertEquals(o.logLevel, "debug");
  assertEquals(o.localNet, false);
  assertEquals(o.maxFileMb, 250);
});

Deno.test("parseFlags refuses unknown flags and bad values with one-line errors", () => {
  const bad: string[][] = [
    ["--frobnicate"],
    ["--listen"],
    ["--listen", "--seed"],
    ["--listen", "nohost"],
    ["--listen", "1.2.3.4:99999"],
    ["--seed", "1.2.3.4:0"],
    ["--public-addr", "bad host:7000"],
    ["--pow-bits", "40"],
    ["--pow-bits", "x"],
    ["--rate-limit", "10"],
    ["--rate-limit", "0:5"],
    ["--log-level", "loud"],
    ["--max-file-mb", "0"],
    ["--max-file-mb", "501"],
    ["--max-file-mb", "1.5"],
    ["--data-dir", " "],
    ["--web", "0.0.0.0:7080"],
    ["--web", "192.168.1.2:7080"],
    ["--web", "example.org:7080"],
    ["--listen", "127.0.0.1:7100", "--web", "127.0.0.1:7100"],
    ["--no-local-net=yes"],
    ["positional"],
  ];
  for (const args of bad) {
    const err = assertThrows(() => parseFlags(args), FlagError);
    assert(!err.message.includes("\n"), `one line for ${args.join(" ")}`);
  }
});

Deno.test("defaultDataDir follows each platform's convention", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assertEquals(defaultDataDir(env({ HOME: "/home/a" }), "linux"), "/home/a/.local/share/hearth");
  assertEquals(
    defaultDataDir(env({ HOME: "/home/a", XDG_DATA_HOME: "/data" }), "linux"),
    "/data/hearth",
  );
  assertEquals(
    defaultDataDir(env({ HOME: "/Users/a" }), "darwin"),
    "/Users/a/Library/Application Support/hearth",
  );
  assertEquals(defaultDataDir(env({ APPDATA: "C:\\A" }), "windows"), "C:\\A\\hearth");
});

Deno.test("--web beyond loopback needs an owner password, from a file or the environment", () => {
  for (const web of ["0.0.0.0:7080", "192.168.1.2:7080"]) {
    const err = assertThrows(() => parseFlags(["--web", web]), FlagError);
    assert(err.message.includes("--web-password-file") && !err.message.includes("\n"));
    const fromFile = parseFlags(["--web", web, "--web-password-file", "/etc/hearth-pw"]);
    assertEquals(fromFile.webPassword, { file: "/etc/hearth-pw" });
    const env = (name: string) => name === "HEARTH_WEB_PASSWORD" ? "s3cret" : undefined;
    assertEquals(parseFlags(["--web", web], env).webPassword, { env: "s3cret" });
    assertThrows(() => parseFlags(["--web", web], () => ""), FlagError);
  }
  assertEquals(parseFlags([]).webPassword, undefined);
  assertThrows(() => parseFlags(["--web-password-file", " "]), FlagError);
  assertThrows(() => parseFlags(["--web-password-file"]), FlagError);
});
