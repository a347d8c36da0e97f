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
/** Upper bound on the bytes a read waits for, whatever the rate. */
const MAX_MIN_BYTES = 2048;

/**
 * Reads `body` to its end, giving each read to `feed` (the engine, in wasm), which returns
 * 0 to stop, 1 while no text has reached the visitor, 2 once text flows. Resolves with how it
 * ended: "eof", "stopped", "timeout" or "error:<message>".
 *
 * Every JavaScript-visible read and write costs tens of microseconds in workerd, and the
 * runtime delivers one HTTP chunk (one model token) per plain read. So once text flows, reads
 * are BYOB `readAtLeast(minBytes)` calls that let the runtime gather a batch of tokens
 * natively, at the rate measured so far (`batchMs` of it; 0 reads every chunk as it comes).
 * Until then (comments, the role chunk, the first token itself) every read takes whatever
 * arrives, so the first text token is never held back by a batch.
 * Silence longer than `idleMs` cancels the read.
 */
export async function pump(body, feed, idleMs, batchMs) {
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
  let flowingSince = 0;
  let flowedBytes = 0;
  let recentRate = 0;
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
  // How many bytes the next read waits for. Deliberately conservative: the lower of the
  // long-run and recent rates (jitter cannot inflate it), at most twice the last read (it ramps
  // up rather than jumps), and back to one chunk after a read that waited for long (the stream
  // slowed). So a sudden slowdown holds back at most a couple of reads' worth of tokens.
  const nextMinBytes = (bytes, now, elapsed) => {
    if (flowingSince === 0) {
      // The wait for the first text is the model's time to first token, not its pace.
      flowingSince = now;
      measuredAt = now;
      return 1;
    }
    flowedBytes += bytes;
    unmeasured += bytes;
    if (now > measuredAt) {
      // Reads within the same millisecond are measured together.
      const current = unmeasured / (now - measuredAt);
      recentRate = recentRate === 0 ? current : (recentRate + current) / 2;
      unmeasured = 0;
      measuredAt = now;
    }
    if (elapsed > 2 * batchMs) return 1;
    // Reads completing within the first millisecond drain a backlog: only the ramp limits them.
    const longRun = now > flowingSince ? flowedBytes / (now - flowingSince) : Infinity;
    const rate = Math.min(recentRate || Infinity, longRun);
    return Math.max(1, Math.min(MAX_MIN_BYTES, 2 * bytes, Math.floor(rate * batchMs)));
  };
  try {
    for (;;) {
      const { done, value } = byob
        ? await reader.readAtLeast(minBytes, new Uint8Array(buffer, 0, BUFFER_BYTES))
        : await reader.read();
      if (done) return timedOut ? "timeout" : "eof";
      const now = Date.now();
      const elapsed = Math.max(now - last, 1);
      last = now;
      const next = feed(value);
      if (!next) {
        reader.cancel("stopped").catch(() => {});
        return "stopped";
      }
      if (byob) {
        buffer = value.buffer;
        // The rate is measured from the first read with text in it.
        minBytes = next === 2 ? nextMinBytes(value.byteLength, now, elapsed) : 1;
      }
    }
  } catch (error) {
    return timedOut ? "timeout" : `error:${error && error.message ? error.message : error}`;
  } finally {
    clearTimeout(timer);
  }
}
