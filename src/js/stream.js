// Moves bytes between workerd's native streams and the wasm engine with one crossing per
// network read, instead of one Rust future poll (and promise round trip) per chunk.

/** The response body: a native IdentityTransformStream the engine writes SSE bytes into. */
export class Output {
  constructor() {
    const pipe = typeof IdentityTransformStream === "function" ? new IdentityTransformStream() : new TransformStream();
    this.readable = pipe.readable;
    this.writer = pipe.writable.getWriter();
    this.gone = false;
    this.writer.closed.catch(() => {
      this.gone = true;
    });
  }

  /** Queues bytes (copied: the view points into wasm memory); false once the visitor has gone. */
  write(bytes) {
    if (this.gone) return false;
    this.writer.write(bytes.slice()).catch(() => {
      this.gone = true;
    });
    return true;
  }

  /** Ends the body. */
  close() {
    if (!this.gone) this.writer.close().catch(() => {});
  }
}

/** Read buffer size: the most bytes one read hands to the engine. */
const BUFFER_BYTES = 32 * 1024;
/** After the first bytes, a read waits for about this much of the stream (at its current rate). */
const BATCH_MS = 20;
/** Upper bound on the bytes a read waits for, whatever the rate. */
const MAX_MIN_BYTES = 4096;

/**
 * Reads `body` to its end, giving each read to `feed` (the engine, in wasm), which returns
 * false to stop. Resolves with how it ended: "eof", "stopped", "timeout" or "error:<message>".
 *
 * Every JavaScript-visible read and write costs tens of microseconds in workerd, and the
 * runtime delivers one HTTP chunk (one model token) per plain read. So after the first read
 * (which takes whatever arrives, keeping time to first token), reads are BYOB
 * `readAtLeast(minBytes)` calls that let the runtime gather about BATCH_MS worth of tokens
 * natively, at the rate measured so far. Silence longer than `idleMs` cancels the read.
 */
export async function pump(body, feed, idleMs) {
  let reader;
  let byob = true;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    reader = body.getReader();
    byob = false;
  }
  let buffer = new ArrayBuffer(BUFFER_BYTES);
  let minBytes = 1;
  let last = Date.now();
  let first = true;
  let rate = 0;
  let measuredAt = 0;
  let unmeasured = 0;
  let timedOut = false;
  let timer;
  // One timer per idle period, re-armed only when it fires: no timer work per read.
  const arm = (ms) => {
    timer = setTimeout(() => {
      const quiet = Date.now() - last;
      if (quiet >= idleMs) {
        timedOut = true;
        reader.cancel("idle timeout").catch(() => {});
      } else {
        arm(idleMs - quiet);
      }
    }, ms);
  };
  arm(idleMs);
  try {
    for (;;) {
      const { done, value } = byob
        ? await reader.readAtLeast(minBytes, new Uint8Array(buffer, 0, BUFFER_BYTES))
        : await reader.read();
      if (done) return timedOut ? "timeout" : "eof";
      const now = Date.now();
      const elapsed = Math.max(now - last, 1);
      last = now;
      if (!feed(value)) {
        reader.cancel("stopped").catch(() => {});
        return "stopped";
      }
      if (byob) {
        buffer = value.buffer;
        if (first) {
          // The first read's wait is the model's time to first token, not its pace.
          first = false;
          measuredAt = now;
        } else {
          // Reads within the same millisecond are measured together.
          unmeasured += value.byteLength;
          if (now > measuredAt) {
            const current = unmeasured / (now - measuredAt);
            rate = rate === 0 ? current : (rate + current) / 2;
            unmeasured = 0;
            measuredAt = now;
          }
        }
        // A read that waited much longer than a batch means the stream slowed: start over.
        minBytes = elapsed > 4 * BATCH_MS ? 1 : Math.max(1, Math.min(MAX_MIN_BYTES, Math.floor(rate * BATCH_MS)));
      }
    }
  } catch (error) {
    return timedOut ? "timeout" : `error:${error && error.message ? error.message : error}`;
  } finally {
    clearTimeout(timer);
  }
}
