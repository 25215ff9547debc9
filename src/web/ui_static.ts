/**
 * The web UI's static files, from `src/web/ui/` (embedded in the compiled
 * binary with `deno compile --include src/web/ui`). `GET /` serves
 * `index.html` to a signed-in browser and sends any other to `/login`;
 * `GET /ui/<name>` serves a file by an allow-listed extension. A name must
 * match {@link UI_NAME}, read from the raw (still percent-encoded) path, so
 * no `..`, no `%2e`, no backslash and no hidden file can reach the disk;
 * anything else is a JSON 404.
 * @module
 */
import { type Context, Hono } from "hono";
import { HearthError } from "../shared/errors.ts";
import { pageHeaders } from "./login_page.ts";
import { sessionIdOf, type SessionStore } from "./session_auth.ts";

/** The names the UI folder serves: lower-case segments and one extension. */
export const UI_NAME = /^[a-z0-9_-]+(\/[a-z0-9_-]+)*\.[a-z]+$/;

/** The extensions served, and their types. */
export const UI_TYPES: Readonly<Record<string, string>> = Object.freeze({
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  webmanifest: "application/manifest+json",
});

/** Where the UI's files are. */
const UI_DIR = new URL("./ui/", import.meta.url);

/**
 * Read one UI file.
 * @param name a path under the UI folder
 * @returns the bytes and the type, or undefined when not allowed or not there
 */
export async function readUiFile(
  name: string,
): Promise<{ bytes: Uint8Array; type: string } | undefined> {
  if (!UI_NAME.test(name)) return undefined;
  const type = UI_TYPES[name.slice(name.lastIndexOf(".") + 1)];
  if (type === undefined) return undefined;
  const url = new URL(name, UI_DIR);
  // The pattern already rules out leaving the folder; this says so again.
  if (!url.href.startsWith(UI_DIR.href)) return undefined;
  try {
    return { bytes: await Deno.readFile(url), type };
  } catch {
    return undefined;
  }
}

function notFound(): never {
  throw new HearthError("not_found", "No such file");
}

async function serve(c: Context, name: string): Promise<Response> {
  const file = await readUiFile(name);
  if (!file) notFound();
  return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, pageHeaders(file.type));
}

/**
 * The routes `GET /` and `GET /ui/*`.
 * @param deps.sessions the browser sessions (`/` needs one)
 * @returns a sub-app to mount at "/"
 */
export function uiRoutes(deps: { sessions: SessionStore }): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    if (!deps.sessions.touch(sessionIdOf(c))) {
      c.header("Location", "/login");
      return c.body(null, 303);
    }
    return await serve(c, "index.html");
  });
  app.get("/ui/*", async (c) => {
    // The raw path: Hono's decoded one would turn %2f into a slash.
    const raw = new URL(c.req.url).pathname;
    return await serve(c, raw.slice("/ui/".length));
  });
  return app;
}
