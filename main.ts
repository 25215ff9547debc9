/**
 * hearth: the command-line entry point. Parses the flags once, starts the
 * relay node (and, on a fresh machine with no peers, an embedded local
 * network of helper relays), opens the owner's web port on its own
 * listener, and stops everything cleanly on SIGINT or SIGTERM.
 * @module
 */
import {
  type CliOptions,
  defaultDataDir,
  FlagError,
  parseFlags,
  USAGE,
  WEB_PASSWORD_ENV,
} from "./src/shared/cli_flags.ts";
import { formatHostPort, isLoopbackHost, isUnspecifiedHost } from "./src/shared/host_port.ts";
import { createLogger } from "./src/shared/log.ts";
import { type LocalNet, localNetIds, startLocalNet } from "./src/relay/local_net.ts";
import { RelayNode } from "./src/relay/node.ts";
import { PROTOCOL_VERSION } from "./src/shared/codec/limits.ts";
import { OwnerPassword } from "./src/web/session_auth.ts";
import { startWebPort, type WebPort } from "./src/web/web_port.ts";

/** The program's version. */
export const VERSION = "0.1.0";

function say(line: string): void {
  console.log(line);
}

/** A one-line reason for a failed start. */
function startError(err: unknown, listen: string): string {
  if (err instanceof Deno.errors.AddrInUse) return `${listen} is already in use`;
  if (err instanceof Deno.errors.AddrNotAvailable) {
    return `${listen} is not an address of this machine`;
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return `permission denied (${err.message.split("\n")[0]})`;
  }
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

/** An environment variable, or undefined (also without --allow-env). */
function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * The web port's owner password, hashed (the clear text is dropped, and
 * removed from the environment so that no child process inherits it).
 * @throws {FlagError} when the file cannot be read or the password is empty or overlong
 */
async function ownerPassword(
  source: CliOptions["webPassword"],
): Promise<OwnerPassword | undefined> {
  if (source === undefined) return undefined;
  let text: string;
  if ("file" in source) {
    try {
      text = (await Deno.readTextFile(source.file)).replace(/\r?\n$/, "");
    } catch (err) {
      throw new FlagError(
        `--web-password-file: cannot read ${JSON.stringify(source.file)} (${
          err instanceof Error ? err.name : "error"
        })`,
      );
    }
  } else {
    text = source.env;
    try {
      Deno.env.delete(WEB_PASSWORD_ENV);
    } catch { /* no --allow-env: nothing to clean */ }
  }
  const what = "file" in source ? "--web-password-file" : WEB_PASSWORD_ENV;
  if (text.length === 0 || text.length > 1024) {
    throw new FlagError(`${what}: the owner password must be 1 to 1024 characters`);
  }
  return await OwnerPassword.create(text);
}

async function main(args: string[]): Promise<number> {
  let options;
  let password: OwnerPassword | undefined;
  try {
    options = parseFlags(args, envVar);
    if (!options.help && !options.version) password = await ownerPassword(options.webPassword);
  } catch (err) {
    if (err instanceof FlagError) {
      console.error(`hearth: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (options.help) {
    say(USAGE);
    return 0;
  }
  if (options.version) {
    say(`hearth ${VERSION} (protocol ${PROTOCOL_VERSION})`);
    return 0;
  }
  const dataDir = options.dataDir ?? defaultDataDir((n) => Deno.env.get(n), Deno.build.os);
  const log = createLogger({ level: options.logLevel });
  const gossipIntervalMs = Number(Deno.env.get("HEARTH_GOSSIP_INTERVAL_MS") ?? "") || undefined;

  // Listen for a stop from the start on: a SIGTERM that comes while the
  // node is still starting stops it cleanly once it has started.
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let node: RelayNode;
  try {
    node = await RelayNode.start({
      dataDir,
      listen: options.listen,
      publicAddr: options.publicAddr,
      seeds: options.seeds.map(formatHostPort),
      powBits: options.powBits,
      rateLimit: options.rateLimit,
      log,
      gossipIntervalMs,
    });
  } catch (err) {
    console.error(`hearth: cannot start: ${startError(err, formatHostPort(options.listen))}`);
    return 1;
  }
  let localNet: LocalNet | undefined;
  if (options.seeds.length === 0 && options.localNet) {
    const helpers = await localNetIds(dataDir);
    const realPeers = node.directory.liveNodes().filter((n) =>
      n.id !== node.id && !helpers.has(n.id)
    );
    if (realPeers.length === 0) {
      say("hearth: no peers known yet: starting a local network of helper relays on loopback");
      localNet = await startLocalNet(dataDir, {
        seed: node.publicAddr,
        powBits: options.powBits,
        // Helpers report only problems; the owner's node speaks for the network.
        log: createLogger({
          level: options.logLevel === "debug" ? "debug" : "warn",
          component: "hearth.local-net",
        }),
        gossipIntervalMs,
      });
      await node.join(localNet.addrs);
      say(
        `hearth: local network: ${localNet.nodes.length} helper relays; join real peers with --seed`,
      );
    }
  }
  let web: WebPort;
  try {
    web = await startWebPort({
      dataDir,
      listen: options.web,
      nodeStatus: () => ({ ...node.status(), stats: node.stats() }),
      nodes: () => node.directory.liveNodes(),
      ...(options.maxFileMb !== undefined ? { maxFileBytes: options.maxFileMb * 1_000_000 } : {}),
      ...(password ? { password } : {}),
      log,
    });
  } catch (err) {
    console.error(
      `hearth: cannot open the web port: ${startError(err, formatHostPort(options.web))}`,
    );
    await localNet?.stop();
    await node.stop();
    return 1;
  }
  const status = node.status();
  say(`hearth ${VERSION}: node ${status.id.slice(0, 16)}…`);
  say(`hearth: relay port listening on ${node.listenAddr}, public address ${node.publicAddr}`);
  say(`hearth: data in ${dataDir}`);
  if (isUnspecifiedHost(options.listen.host) && !options.publicAddr) {
    say("hearth: no --public-addr given: other machines cannot reach this relay until you set one");
  }
  say(`hearth: web port http://${formatHostPort(web.addr)}`);
  say(`hearth: owner token in ${web.tokenPath}: ${web.token}`);
  // A secret like the token: stdout only, never the log.
  say(`hearth: open ${web.loginUrl}`);
  say("hearth: (a one-time sign-in link, valid for 10 minutes)");
  if (!isLoopbackHost(web.addr.host)) {
    say(
      `hearth: warning: the web port listens beyond loopback (${
        formatHostPort(web.addr)
      }), over plain http: anyone who can reach it can try the owner password; use it only on a network you trust`,
    );
  }
  say(
    status.reachable
      ? `hearth: reachable; ${status.directorySize} nodes known`
      : "hearth: not reachable from peers: running as a client-only participant",
  );

  await stopped.promise;
  say("hearth: stopping");
  await web.stop();
  await localNet?.stop();
  await node.stop();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
