import { assertEquals } from "../../../tests/assert.ts";
import { isLoopbackAddr, networkGroupOf } from "./network_group.ts";

Deno.test("networkGroupOf puts IPv4 in its /16, IPv6 in its /32, a name in its own group", () => {
  const cases: [string, string][] = [
    ["203.0.113.9:7000", "v4:203.0"],
    ["203.0.200.1:1", "v4:203.0"],
    ["203.1.113.9:7000", "v4:203.1"],
    ["127.0.0.1:7000", "v4:127.0"],
    ["[2001:db8::1]:7000", "v6:2001:db8"],
    ["[2001:db8:ffff:1::]:7000", "v6:2001:db8"],
    ["[2001:0DB9::]:7000", "v6:2001:db9"],
    ["[::1]:7000", "v6:0:0"],
    ["[::ffff:198.51.100.7]:7000", "v4:198.51"],
    ["[64:ff9b::198.51.100.7]:7000", "v6:64:ff9b"],
    ["[1:2:3:4:5:6:7:8]:7000", "v6:1:2"],
    ["Node-1.Example.org:7000", "dns:node-1.example.org"],
    ["node-2.example.org:7000", "dns:node-2.example.org"],
    ["not an address", "raw:not an address"],
    ["[1::2::3]:7000", "raw:[1::2::3]:7000"],
    ["[1:2:3:4:5:6:7:8:9]:7000", "raw:[1:2:3:4:5:6:7:8:9]:7000"],
  ];
  for (const [addr, group] of cases) assertEquals(networkGroupOf(addr), group, addr);
});

Deno.test("isLoopbackAddr knows 127/8, ::1 and localhost", () => {
  for (const addr of ["127.0.0.1:1", "127.9.8.7:1", "[::1]:1", "localhost:1", "LOCALHOST:1"]) {
    assertEquals(isLoopbackAddr(addr), true, addr);
  }
  for (const addr of ["10.0.0.1:1", "[2001:db8::1]:1", "example.org:1", "garbage"]) {
    assertEquals(isLoopbackAddr(addr), false, addr);
  }
});
