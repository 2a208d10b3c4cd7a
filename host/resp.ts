/**
 * Minimal RESP framing: finds where complete replies end in a byte stream without decoding them,
 * so raw reply bytes can be handed to the plugin exactly as Redis sent them.
 */
export class RespFramer {
  private buf = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      const end = respEnd(this.buf, 0);
      if (end < 0) break;
      out.push(this.buf.subarray(0, end));
      this.buf = this.buf.subarray(end);
    }
    return out;
  }

  reset(): void { this.buf = Buffer.alloc(0); }
}

/** Offset just past the complete RESP value starting at `at`, or -1 if incomplete. Throws on garbage. */
export function respEnd(b: Buffer, at: number): number {
  if (at >= b.length) return -1;
  const line = b.indexOf("\r\n", at);
  if (line < 0) return -1;
  const type = String.fromCharCode(b[at]);
  const head = b.toString("latin1", at + 1, line);
  const after = line + 2;
  switch (type) {
    case "+": case "-": case ":": case "_": case "#": case ",": case "(":
      return after;
    case "$": case "!": case "=": {
      const n = parseInt(head, 10);
      if (Number.isNaN(n)) throw new Error(`bad RESP length ${head}`);
      if (n < 0) return after;
      return b.length >= after + n + 2 ? after + n + 2 : -1;
    }
    case "*": case "~": case ">": case "%": case "|": {
      let n = parseInt(head, 10);
      if (Number.isNaN(n)) throw new Error(`bad RESP count ${head}`);
      if (type === "%" || type === "|") n *= 2;
      let pos = after;
      for (let i = 0; i < n; i++) {
        pos = respEnd(b, pos);
        if (pos < 0) return -1;
      }
      return pos;
    }
    default:
      throw new Error(`bad RESP type byte 0x${b[at].toString(16)}`);
  }
}

/** Number of complete RESP values in `b` (a query may pipeline several commands). */
export function respCount(b: Buffer): number {
  let n = 0;
  let pos = 0;
  while (pos < b.length) {
    const end = respEnd(b, pos);
    if (end < 0) break;
    pos = end;
    n++;
  }
  return n;
}

/** Encodes a command as a RESP array of bulk strings. */
export function respCommand(...args: Array<string | Buffer | number>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const v = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${v.length}\r\n`), v, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}
