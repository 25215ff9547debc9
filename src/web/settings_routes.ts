/**
 * The owner API's messaging settings: read receipts and typing
 * indicators, both off until the owner turns them on, both reciprocal.
 * Every route answers 423 `locked` while the client database is locked.
 * @module
 */
import { Hono } from "hono";
import type { Messenger } from "../client/messenger.ts";
import type { ChatSettings } from "../client/messages/settings.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { readJsonObject } from "./json_body.ts";

/** What {@link settingsRoutes} needs. */
export interface SettingsRoutesDeps {
  /** The owner's messenger. */
  messenger: Messenger;
  /** Where events go (names and numbers only). */
  log: Logger;
}

/** The names of the settings, as the API spells them. */
export const SETTING_NAMES: readonly (keyof ChatSettings)[] = ["readReceipts", "typingIndicators"];

/**
 * The routes `GET /api/settings` and `PATCH /api/settings`.
 * @param deps the messenger and a logger
 * @returns a sub-app to mount at "/"
 */
export function settingsRoutes(deps: SettingsRoutesDeps): Hono {
  const { messenger, log } = deps;
  const app = new Hono();

  app.get("/api/settings", async (c) => {
    return c.json(await messenger.chat().settings());
  });

  app.patch("/api/settings", async (c) => {
    const chat = messenger.chat();
    const patch = settingsPatch(await readJsonObject(c.req.raw));
    const settings = await chat.updateSettings(patch);
    log.info("settings.updated", { ...patch });
    return c.json(settings);
  });

  return app;
}

/**
 * The body of `PATCH /api/settings`, checked: only known names, only booleans.
 * @param body the parsed body
 * @returns the settings to change
 * @throws {HearthError} `bad_request` for an unknown name or a value that is not a boolean
 */
export function settingsPatch(body: Record<string, unknown>): Partial<ChatSettings> {
  const patch: Partial<ChatSettings> = {};
  for (const [name, value] of Object.entries(body)) {
    if (!(SETTING_NAMES as readonly string[]).includes(name)) {
      throw new HearthError("bad_request", "Unknown setting");
    }
    if (typeof value !== "boolean") {
      throw new HearthError("bad_request", `${name} must be a boolean`);
    }
    patch[name as keyof ChatSettings] = value;
  }
  return patch;
}
