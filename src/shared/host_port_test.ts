import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { formatHostPort, isLoopbackHost, parseHostPort } from "./host_port.ts";

Deno.test("parseHostPort accepts IPv4, names and bracketed IPv6", () => {
  assertEquals(parseHostPort("127.0.0.1:7000"), { host: "127.0.0.1", port: 7000 });
  assertEquals(parseHostPort("node-1.example.org:1"), { host: "node-1.example.org", port: 1 });
  assertEquals(parseHostPort("[2001:db8::1]:65535"), { host: "2001:db8::1", port: 65535 });
  assertEquals(parseHostPort("localhost:0", { allowPortZero: true }).port, 0);
});

Deno.test("parseHostPort refuses malformed addresses", () => {
  for (
    const bad of [
      "",
      ":7000",
      "host",
      "host:",
      "host:-1",
      "host:65536",
      "host:0",
      "999.1.1.1:7000",
      "1.2.3:7000",
      "a b:7000",
      "[::1:7000",
      "[zz]:7000",
      "-bad.org:7000",
      "x".repeat(300) + ":1",
    ]
  ) {
    assertThrows(() => parseHostPort(bad), TypeError);
  }
});

Deno.test("formatHostPort round-trips and brackets IPv6", () => {
  for (const text of ["1.2.3.4:5", "[::1]:7000", "a.example:80"]) {
    assertEquals(formatHostPort(parseHostPort(text)), text);
  }
  assertEquals(isLoopbackHost("127.0.0.1"), true);
  assertEquals(isLoopbackHost("::1"), true);
  assertEquals(isLoopbackHost("10.0.0.1"), false);
});
