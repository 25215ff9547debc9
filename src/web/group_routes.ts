/**
 * The owner API's group routes (docs/API.md "Groups"): create, list, read,
 * join, leave, decline, add and remove members, rename, picture and
 * promotion. Sending to a group is `POST /api/messages` with a Group ID as
 * `to` (message_routes.ts); a group's messages are
 * `GET /api/conversations/{groupId}/messages`. Every route answers 423
 * `locked` while the client database is locked.
 * @module
 */
import { Hono } from "hono";
import type { Messenger } from "../client/messenger.ts";
import type { GroupUpdate } from "../client/groups/group_service.ts";
import { fromBase64 } from "../shared/crypto/mod.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { readJsonObject } from "./json_body.ts";

/** What {@link groupRoutes} needs. */
export interface GroupRoutesDeps {
  /** The owner's messenger. */
  messenger: Messenger;
  /** Where events go (names and numbers only). */
  log: Logger;
}

/** The largest body of the group routes (100 Account IDs, or a base64 picture of 8 KiB). */
const MAX_GROUP_BODY_BYTES = 16_384;

/**
 * The routes `POST /api/groups`, `GET /api/groups`, `GET /api/groups/{id}`,
 * `POST /api/groups/{id}/join|leave|decline`, `POST /api/groups/{id}/members`,
 * `DELETE /api/groups/{id}/members/{accountId}`, `PATCH /api/groups/{id}` and
 * `GET /api/groups/{id}/picture`.
 * @param deps the messenger and a logger
 * @returns a sub-app to mount at "/"
 */
export function groupRoutes(deps: GroupRoutesDeps): Hono {
  const { messenger, log } = deps;
  const app = new Hono();

  app.post("/api/groups", async (c) => {
    const groups = messenger.groups();
    const body = await readJsonObject(c.req.raw, MAX_GROUP_BODY_BYTES);
    if (typeof body.name !== "string") throw new HearthError("bad_request", "name is required");
    const members = body.members ?? [];
    if (!Array.isArray(members) || members.some((m) => typeof m !== "string")) {
      throw new HearthError("bad_request", "members must be a list of Account IDs");
    }
    const group = await groups.create(body.name, members as string[]);
    log.info("group.created", { members: group.memberCount });
    return c.json(group, 201);
  });

  app.get("/api/groups", async (c) => {
    return c.json({ groups: await messenger.groups().list() });
  });

  app.get("/api/groups/:id", async (c) => {
    return c.json(await messenger.groups().get(c.req.param("id")));
  });

  app.get("/api/groups/:id/picture", async (c) => {
    const picture = await messenger.groups().picture(c.req.param("id"));
    if (!picture) throw new HearthError("not_found", "No picture");
    void c;
    return new Response(picture.bytes.slice(), {
      headers: {
        "Content-Type": picture.type,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
      },
    });
  });

  app.post("/api/groups/:id/:action{join|leave|decline}", async (c) => {
    const groups = messenger.groups();
    const id = c.req.param("id");
    const action = c.req.param("action");
    const group = action === "join"
      ? await groups.join(id)
      : action === "leave"
      ? await groups.leave(id)
      : await groups.decline(id);
    log.info("group.state", { [action]: true });
    return c.json(group);
  });

  app.post("/api/groups/:id/members", async (c) => {
    const groups = messenger.groups();
    const body = await readJsonObject(c.req.raw, MAX_GROUP_BODY_BYTES);
    if (typeof body.accountId !== "string") {
      throw new HearthError("bad_request", "accountId is required");
    }
    const group = await groups.addMember(c.req.param("id"), body.accountId);
    log.info("group.member_added");
    return c.json(group);
  });

  app.delete("/api/groups/:id/members/:accountId", async (c) => {
    const group = await messenger.groups().removeMember(
      c.req.param("id"),
      c.req.param("accountId"),
    );
    log.info("group.member_removed");
    return c.json(group);
  });

  app.patch("/api/groups/:id", async (c) => {
    const groups = messenger.groups();
    const patch = groupPatch(await readJsonObject(c.req.raw, MAX_GROUP_BODY_BYTES));
    const group = await groups.update(c.req.param("id"), patch);
    log.info("group.updated", {
      name: patch.name !== undefined,
      picture: patch.picture !== undefined,
      admins: patch.admins !== undefined,
    });
    return c.json(group);
  });

  return app;
}

/**
 * The body of `PATCH /api/groups/{id}`, checked by type (the service checks the values).
 * @param body the parsed body
 * @returns the change
 * @throws {HearthError} `bad_request` for an unknown field or a mistyped value;
 *   `bad_encoding` for a picture that is not base64; `too_large` for one over 8 KiB
 */
export function groupPatch(body: Record<string, unknown>): GroupUpdate {
  const patch: GroupUpdate = {};
  for (const name of Object.keys(body)) {
    if (!["name", "picture", "admins"].includes(name)) {
      throw new HearthError("bad_request", `Unknown field ${name}`);
    }
  }
  if (body.name !== undefined) {
    if (typeof body.name !== "string") throw new HearthError("bad_request", "name must be text");
    patch.name = body.name;
  }
  if (body.picture !== undefined) {
    if (body.picture === null) patch.picture = null;
    else if (typeof body.picture !== "string") {
      throw new HearthError("bad_request", "picture must be base64 or null");
    } else {
      if (body.picture.length > Math.ceil(8_192 / 3) * 4) {
        throw new HearthError("too_large", "Group picture is larger than 8 KiB");
      }
      try {
        patch.picture = fromBase64(body.picture);
      } catch {
        throw new HearthError("bad_encoding", "picture must be base64");
      }
    }
  }
  if (body.admins !== undefined) {
    if (!Array.isArray(body.admins) || body.admins.some((a) => typeof a !== "string")) {
      throw new HearthError("bad_request", "admins must be a list of Account IDs");
    }
    patch.admins = body.admins as string[];
  }
  return patch;
}
