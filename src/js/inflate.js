// Inflates bytes with the runtime's native DecompressionStream, so the wasm carries no inflate
// code of its own (PDF and DOCX uploads are deflate inside).

/**
 * Inflates `view` ("deflate" is zlib-wrapped, "deflate-raw" bare) to at most `maxBytes`.
 * A stream cut short or followed by junk (common in PDFs) keeps what inflated before the
 * fault; one that yields nothing, or more than `maxBytes`, rejects.
 */
export async function inflate(view, format, maxBytes) {
  // `view` points into wasm memory, which may move once we await: copy it first.
  const input = view.slice();
  const stream = new DecompressionStream(format);
  const writer = stream.writable.getWriter();
  writer.write(input).catch(() => {});
  writer.close().catch(() => {});
  const reader = stream.readable.getReader();
  const parts = [];
  let total = 0;
  for (;;) {
    let read;
    try {
      read = await reader.read();
    } catch (e) {
      if (total > 0) break;
      throw new Error(`the data does not inflate (${e && e.message ? e.message : e})`);
    }
    if (read.done) break;
    total += read.value.byteLength;
    if (total > maxBytes) {
      reader.cancel().catch(() => {});
      throw new Error(`it inflates to more than ${Math.floor(maxBytes / 1048576)} MB`);
    }
    parts.push(read.value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
