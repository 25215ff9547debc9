/**
 * The worker that decodes a QR code from RGBA pixels (see qr_decoder.ts).
 * It answers each `{width, height, data}` with `{text}`, `text` null when
 * no code was found. The decoder runs here, off the node's event loop,
 * because some images make it work for a very long time; the node ends
 * the worker when it takes too long.
 * @module
 */
import decodeQR from "@paulmillr/qr/decode.js";

/** An RGBA image, 4 bytes per pixel, rows top to bottom. */
interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * The image turned a quarter turn clockwise. The decoder scans rows for
 * the finder patterns; turned, it scans the columns, which finds the
 * codes whose data modules happen to mislead the row scan.
 * @param image the image
 * @returns a new image, `height` wide and `width` high
 */
function quarterTurn(image: Pixels): Pixels {
  const { width, height } = image;
  const from = new Uint32Array(image.data.buffer, image.data.byteOffset, width * height);
  const to = new Uint32Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const column = height - 1 - y;
    for (let x = 0; x < width; x++) to[x * height + column] = from[row + x]!;
  }
  return { width: height, height: width, data: new Uint8Array(to.buffer) };
}

/**
 * Decode one image, trying it as given and then turned.
 * @param image the image
 * @returns the code's text, or null when none was found
 */
function decodePixels(image: Pixels): string | null {
  for (const attempt of [() => image, () => quarterTurn(image)]) {
    try {
      return decodeQR(attempt());
    } catch {
      // The decoder throws on anything it cannot read; try the next way.
    }
  }
  return null;
}

/** The worker's global scope, as much of it as is used here. */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Pixels>) => void) | null;
  postMessage(message: { text: string | null }): void;
};

scope.onmessage = (event) => {
  scope.postMessage({ text: decodePixels(event.data) });
};
