/**
 * The owner API client: the session's CSRF token on every non-GET request,
 * cookies same-origin, JSON in and out, errors as ApiError.
 * @module
 */

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** Read the session's CSRF token; sends to /login when there is no session. */
export async function initSession() {
  const r = await fetch("/api/session", { credentials: "same-origin" });
  if (r.status === 401) {
    location.assign("/login");
    throw new ApiError(401, "unauthorized", "Not signed in");
  }
  if (r.ok) {
    const j = await r.json();
    csrfToken = j.csrfToken ?? null;
  }
}

function headers(method, extra) {
  const h = new Headers(extra ?? {});
  if (method !== "GET" && method !== "HEAD" && csrfToken) h.set("X-CSRF-Token", csrfToken);
  return h;
}

async function check(r) {
  if (r.ok) return r;
  let body = null;
  try {
    body = await r.json();
  } catch {
    // not JSON
  }
  if (r.status === 401 && body?.error === "unauthorized") {
    // the session ended: sign in again
    location.assign("/login");
  }
  throw new ApiError(r.status, body?.error ?? "http", body?.message ?? `HTTP ${r.status}`, body);
}

/** A JSON request; answers the parsed JSON. */
export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: headers(method) };
  if (body !== undefined) {
    init.headers.set("Content-Type", "application/json");
    init.body = JSON.stringify(body);
  }
  const r = await check(await fetch(path, init));
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

/** POST a FormData body (multipart). */
export async function apiForm(path, form) {
  const r = await check(
    await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: headers("POST"),
      body: form,
    }),
  );
  return await r.json();
}

/** POST raw bytes (application/octet-stream); answers the parsed JSON. */
export async function apiBytes(path, bytes) {
  const h = headers("POST");
  h.set("Content-Type", "application/octet-stream");
  const r = await check(
    await fetch(path, { method: "POST", credentials: "same-origin", headers: h, body: bytes }),
  );
  return await r.json();
}

/** GET bytes as a Blob. */
export async function apiBlob(path) {
  const r = await check(await fetch(path, { credentials: "same-origin" }));
  return await r.blob();
}

export function enc(s) {
  return encodeURIComponent(s);
}
