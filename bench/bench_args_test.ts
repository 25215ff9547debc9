import { assertEquals, assertThrows } from "../tests/assert.ts";
import { parseBenchArgs, resolvePath } from "./bench_args.ts";

Deno.test("no arguments: the default path", () => {
  assertEquals(parseBenchArgs([]), { help: false });
});

Deno.test("the output path: --out <path>, --out=<path>, -o <path>, or a bare path", () => {
  const expected = { outPath: "/tmp/r.json", help: false };
  assertEquals(parseBenchArgs(["--out", "/tmp/r.json"]), expected);
  assertEquals(parseBenchArgs(["--out=/tmp/r.json"]), expected);
  assertEquals(parseBenchArgs(["-o", "/tmp/r.json"]), expected);
  assertEquals(parseBenchArgs(["/tmp/r.json"]), expected);
  assertEquals(parseBenchArgs(["r.json"]), { outPath: "r.json", help: false });
});

Deno.test("--help is recognised alongside a path", () => {
  assertEquals(parseBenchArgs(["--help"]), { help: true });
  assertEquals(parseBenchArgs(["-h", "r.json"]), { outPath: "r.json", help: true });
});

Deno.test("a missing or empty path is refused", () => {
  assertThrows(() => parseBenchArgs(["--out"]), RangeError, "--out needs a path");
  assertThrows(() => parseBenchArgs(["--out="]), RangeError, "--out needs a path");
  assertThrows(() => parseBenchArgs(["--out", "--help"]), RangeError, "--out needs a path");
  assertThrows(() => parseBenchArgs([""]), RangeError, "--out needs a path");
});

Deno.test("two paths are refused", () => {
  assertThrows(() => parseBenchArgs(["a.json", "b.json"]), RangeError, "one output path");
  assertThrows(() => parseBenchArgs(["--out", "a.json", "b.json"]), RangeError, "one output path");
});

Deno.test("an unknown option is refused, and named", () => {
  assertThrows(() => parseBenchArgs(["--quick"]), RangeError, "Unknown option --quick");
  assertThrows(() => parseBenchArgs(["-"]), RangeError, "Unknown option -");
});

Deno.test("resolvePath keeps absolute paths and joins relative ones to the folder", () => {
  assertEquals(resolvePath("/home/me", "/tmp/r.json"), "/tmp/r.json");
  assertEquals(resolvePath("/home/me", "r.json"), "/home/me/r.json");
  assertEquals(resolvePath("/home/me/", "out/r.json"), "/home/me/out/r.json");
  assertEquals(resolvePath("/", "r.json"), "/r.json");
});
