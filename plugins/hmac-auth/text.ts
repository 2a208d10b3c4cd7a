// Small string helpers that spare allocations on the per-request path.

/** Lower-cases A-Z only (as absl::AsciiStrToLower); other characters stay. No copy when nothing changes. */
export function asciiLower(s: string): string {
  const n = s.length;
  let i = 0;
  while (i < n && <u32>s.charCodeAt(i) - 65 >= 26) i++;
  if (i == n) return s;
  const out = changetype<string>(__new(<usize>n << 1, idof<string>()));
  const src = changetype<usize>(s), dst = changetype<usize>(out);
  for (let j = 0; j < n; j++) {
    const c = load<u16>(src + (<usize>j << 1));
    store<u16>(dst + (<usize>j << 1), <u32>c - 65 < 26 ? c + 32 : c);
  }
  return out;
}

/**
 * Appends strings into one growing buffer and hands out the result with a single allocation.
 * One per module is enough: a plugin VM runs one callback at a time.
 */
export class StringBuilder {
  private buf: ArrayBuffer = new ArrayBuffer(1024);
  private used: i32 = 0;   // bytes (UTF-16 units × 2)

  reset(): StringBuilder { this.used = 0; return this; }

  add(s: string): StringBuilder {
    const bytes = s.length << 1;
    if (this.used + bytes > this.buf.byteLength) {
      const bigger = new ArrayBuffer(max(this.buf.byteLength << 1, this.used + bytes));
      memory.copy(changetype<usize>(bigger), changetype<usize>(this.buf), <usize>this.used);
      this.buf = bigger;
    }
    memory.copy(changetype<usize>(this.buf) + <usize>this.used, changetype<usize>(s), <usize>bytes);
    this.used += bytes;
    return this;
  }

  toString(): string { return String.UTF16.decodeUnsafe(changetype<usize>(this.buf), <usize>this.used); }
}

export const builder = new StringBuilder();
