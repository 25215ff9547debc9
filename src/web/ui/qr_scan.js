/**
 * Reading a QR code with the camera or from an image file. The page has no
 * QR decoder of its own (it loads nothing from outside the node), so the
 * pixels go to the node: `POST /api/qr/decode` answers the code's text.
 * Used by the New chat dialog, to fill in an Account ID.
 * @module
 */
import { apiBytes, ApiError } from "./api.js";
import { h } from "./dom.js";

/** The longest side of an image sent to the node, px. */
const MAX_SIDE = 640;
/** Small images (a screenshot of a code) are scaled up to this, pixel-exact, px. */
const SMALL_SIDE = 320;
/** The node refuses images smaller than this, px. */
const MIN_SIDE = 16;
/** The time between two camera frames, ms. */
const FRAME_MS = 400;

/**
 * An Account ID as typed or pasted: whitespace (a line break of a copied
 * ID, spaces around it) removed, and an all-upper-case ID (the QR code's
 * form) in lower case. Anything else is returned as it is.
 */
export function compactAccountId(text) {
  const s = String(text ?? "").replace(/\s+/g, "");
  return /^HEARTH1[0-9A-Z]+$/.test(s) ? s.toLowerCase() : s;
}

/** The Account ID a QR code's text holds, or null when it holds something else. */
export function accountIdFromQr(text) {
  const s = compactAccountId(text);
  return /^hearth1[0-9a-z]+$/.test(s) ? s : null;
}

/**
 * Draw (a part of) an image or video frame into a canvas the node takes:
 * the longest side at most {@link MAX_SIDE}; a small image scaled up by a
 * whole factor without smoothing, so its modules stay sharp.
 * @param source an ImageBitmap or a <video>
 * @param area the part to draw: {x, y, w, h} in source pixels
 */
function toCanvas(source, area) {
  let scale = Math.min(1, MAX_SIDE / Math.max(area.w, area.h));
  if (Math.max(area.w, area.h) < SMALL_SIDE) {
    scale = Math.max(1, Math.floor(SMALL_SIDE / Math.max(area.w, area.h)));
  }
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(MIN_SIDE, Math.round(area.w * scale));
  canvas.height = Math.max(MIN_SIDE, Math.round(area.h * scale));
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#fff"; // transparent pixels (a PNG's background) read as white
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = scale < 1;
  ctx.drawImage(source, area.x, area.y, area.w, area.h, 0, 0, canvas.width, canvas.height);
  return canvas;
}

/**
 * Ask the node for the QR code in a canvas.
 * @returns the code's text, or null when there is none (or the node is busy with another)
 */
async function decodeCanvas(canvas) {
  const { width, height } = canvas;
  const pixels = canvas.getContext("2d", { willReadFrequently: true })
    .getImageData(0, 0, width, height).data;
  try {
    const r = await apiBytes(`/api/qr/decode?width=${width}&height=${height}`, pixels);
    return typeof r?.text === "string" ? r.text : null;
  } catch (e) {
    if (e instanceof ApiError && (e.code === "not_found" || e.code === "rate_limited")) return null;
    throw e;
  }
}

/**
 * Read a QR code from an image file (a photo or a screenshot of a code):
 * the whole image first, then, for a large photo, its middle half at more
 * detail.
 * @returns the code's text, or null when none was found
 * @throws when the file is not an image the browser can read
 */
export async function decodeImageFile(file) {
  const bitmap = await createImageBitmap(file);
  try {
    const { width: w, height: h } = bitmap;
    const text = await decodeCanvas(toCanvas(bitmap, { x: 0, y: 0, w, h }));
    if (text !== null || Math.max(w, h) <= MAX_SIDE) return text;
    return await decodeCanvas(toCanvas(bitmap, { x: w / 4, y: h / 4, w: w / 2, h: h / 2 }));
  } finally {
    bitmap.close();
  }
}

/** A sentence for a camera that could not be opened. */
function cameraErrorText(e) {
  if (e?.name === "NotAllowedError" || e?.name === "SecurityError") {
    return "Camera access was not allowed. You can still paste the Account ID or pick an image.";
  }
  if (e?.name === "NotFoundError" || e?.name === "OverconstrainedError") {
    return "No camera was found. You can still paste the Account ID or pick an image.";
  }
  if (e?.name === "NotReadableError") return "The camera is in use by another program.";
  return `The camera could not be opened: ${e?.message ?? e}`;
}

/**
 * The controls that read an Account ID from a QR code: *Scan QR code*
 * (the camera, shown in the dialog, one frame every 400 ms until a code
 * is read) and *From image…* (a picked file).
 * @param options.onText called with the code's text once one is read
 * @returns `{ el, stop }`: the controls, and a function that ends the camera
 */
export function qrControls({ onText }) {
  const status = h("p", {
    class: "muted small-text qr-status",
    testid: "qr-status",
    role: "status",
    "aria-live": "polite",
  });
  const video = h("video", {
    class: "qr-video",
    testid: "qr-video",
    muted: true,
    playsinline: true,
    hidden: true,
  });
  video.muted = true; // the property, which lets it play without a gesture
  const scan = h("button", {
    type: "button",
    class: "secondary small",
    testid: "qr-scan",
    text: "Scan QR code",
  });
  const file = h("input", {
    type: "file",
    id: "qr-file",
    testid: "qr-file",
    accept: "image/*",
    class: "visually-hidden",
    tabindex: "-1",
    "aria-label": "Pick an image of a QR code",
  });
  const pick = h("label", {
    class: "secondary small",
    for: "qr-file",
    tabindex: "0",
    role: "button",
    testid: "qr-pick",
    text: "From image…",
    onkeydown: (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        file.click();
      }
    },
  });

  let stream = null;
  let timer = null;
  let running = false;

  function stop() {
    running = false;
    clearTimeout(timer);
    for (const t of stream?.getTracks() ?? []) t.stop();
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    scan.textContent = "Scan QR code";
  }

  function found(text) {
    stop();
    status.textContent = "";
    onText(text);
  }

  async function frame() {
    if (!running) return;
    if (video.videoWidth > 0 && video.videoHeight > 0) {
      const area = { x: 0, y: 0, w: video.videoWidth, h: video.videoHeight };
      try {
        const text = await decodeCanvas(toCanvas(video, area));
        if (!running) return;
        if (text !== null) return found(text);
      } catch (e) {
        if (!running) return;
        stop();
        status.textContent = `The QR code could not be read: ${e?.message ?? e}`;
        return;
      }
    }
    timer = setTimeout(frame, FRAME_MS);
  }

  async function start() {
    if (!navigator.mediaDevices?.getUserMedia) {
      status.textContent =
        "The camera is not available on this page (it needs https or localhost). You can still paste the Account ID or pick an image.";
      return;
    }
    running = true;
    scan.textContent = "Stop camera";
    status.textContent = "Opening the camera…";
    let s;
    try {
      s = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" } },
        audio: false,
      });
    } catch (e) {
      if (running) {
        stop();
        status.textContent = cameraErrorText(e);
      }
      return;
    }
    if (!running) {
      for (const t of s.getTracks()) t.stop(); // closed while the camera opened
      return;
    }
    stream = s;
    video.srcObject = s;
    video.hidden = false;
    status.textContent = "Point the camera at the QR code of the Account ID.";
    try {
      await video.play();
    } catch {
      // autoplay refused: frames still arrive for a muted video in most browsers
    }
    frame();
  }

  scan.addEventListener("click", () => running ? stop() : start());
  file.addEventListener("change", async () => {
    const f = file.files?.[0];
    file.value = "";
    if (!f) return;
    stop();
    status.textContent = "Reading the image…";
    try {
      const text = await decodeImageFile(f);
      if (text === null) status.textContent = "No QR code was found in this image.";
      else found(text);
    } catch (e) {
      status.textContent = e instanceof ApiError
        ? `The QR code could not be read: ${e.message}`
        : "This file is not an image the browser can read.";
    }
  });

  const el = h(
    "div",
    { class: "qr-controls stack" },
    h("div", { class: "row-buttons" }, scan, file, pick),
    video,
    status,
  );
  return { el, stop };
}
