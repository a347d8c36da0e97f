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

/**
 * Reads `body` to its end, giving each chunk to `feed` (the engine, in wasm), which returns
 * false to stop. Silence longer than `idleMs` cancels the read. Resolves with how it ended:
 * "eof", "stopped", "timeout" or "error:<message>".
 */
export async function pump(body, feed, idleMs) {
  const reader = body.getReader();
  let last = Date.now();
  let timedOut = false;
  let timer;
  // One timer per idle period, re-armed only when it fires: no timer work per chunk.
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
      const { done, value } = await reader.read();
      if (done) return timedOut ? "timeout" : "eof";
      last = Date.now();
      if (!feed(value)) {
        reader.cancel("stopped").catch(() => {});
        return "stopped";
      }
    }
  } catch (error) {
    return timedOut ? "timeout" : `error:${error && error.message ? error.message : error}`;
  } finally {
    clearTimeout(timer);
  }
}
