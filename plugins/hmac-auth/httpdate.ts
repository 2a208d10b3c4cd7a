// Times a signed request carries: an HTTP `Date` (the forms Higress's hmac-auth accepts) or
// an `x-ca-timestamp` (13 or more digits: milliseconds, fewer: seconds).

/** What the parsers return for text that is not a time. */
export const NO_TIME: i64 = i64.MIN_VALUE;

const MONTHS: string[] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAY_NAMES: string[] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/** Whether s[from, from + n) equals the first n characters of `lower`, ignoring ASCII case. */
function sameWord(s: string, from: i32, n: i32, lower: string): bool {
  if (n > lower.length) return false;
  for (let i = 0; i < n; i++) if ((s.charCodeAt(from + i) | 0x20) != lower.charCodeAt(i)) return false;
  return true;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: i64, m: i64, d: i64): i64 {
  y -= m <= 2 ? 1 : 0;
  const era = (y >= 0 ? y : y - 399) / 400;
  const yoe = y - era * 400;
  const doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: i32, m: i32): i32 {
  if (m == 2) return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28;
  return m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31;
}

/** A cursor over the date text; every reader returns -1 (or false) instead of failing. */
class Cursor {
  pos: i32 = 0;
  constructor(public s: string) {}
  get done(): bool { return this.pos >= this.s.length; }
  peek(): i32 { return this.pos < this.s.length ? <i32>this.s.charCodeAt(this.pos) : -1; }
  skipSpaces(): void { while (this.peek() == 32) this.pos++; }
  literal(t: string): bool {
    if (this.pos + t.length > this.s.length) return false;
    for (let i = 0; i < t.length; i++) if (this.s.charCodeAt(this.pos + i) != t.charCodeAt(i)) return false;
    this.pos += t.length;
    return true;
  }
  /** 1..maxDigits decimal digits. */
  number(maxDigits: i32): i32 {
    let v = 0, n = 0;
    while (n < maxDigits) {
      const c = this.peek();
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      this.pos++;
      n++;
    }
    return n == 0 ? -1 : v;
  }
  /** Skips a run of ASCII letters; returns where it started. */
  word(): i32 {
    const start = this.pos;
    while (true) {
      const c = this.peek() | 0x20;
      if (c < 97 || c > 122) break;
      this.pos++;
    }
    return start;
  }
  month(): i32 {
    const start = this.word();
    if (this.pos - start != 3) return -1;
    for (let i = 0; i < MONTHS.length; i++) if (sameWord(this.s, start, 3, unchecked(MONTHS[i]))) return i + 1;
    return -1;
  }
  /** A day name, abbreviated ("Sun") or full ("Sunday"). */
  dayName(): bool {
    const start = this.word();
    const n = this.pos - start;
    for (let i = 0; i < DAY_NAMES.length; i++) {
      const d = unchecked(DAY_NAMES[i]);
      if ((n == 3 || n == d.length) && sameWord(this.s, start, n, d)) return true;
    }
    return false;
  }
  /** HH:MM:SS as seconds of the day, or -1. */
  clock(): i32 {
    const h = this.number(2);
    if (h < 0 || h > 23 || !this.literal(":")) return -1;
    const m = this.number(2);
    if (m < 0 || m > 59 || !this.literal(":")) return -1;
    const s = this.number(2);
    if (s < 0 || s > 60) return -1;
    return h * 3600 + m * 60 + s;
  }
}

function toMillis(y: i32, mon: i32, d: i32, secs: i32): i64 {
  if (y < 1 || mon < 1 || d < 1 || d > daysInMonth(y, mon) || secs < 0) return NO_TIME;
  return (daysFromCivil(y, mon, d) * 86400 + <i64>secs) * 1000;
}

/**
 * Epoch milliseconds of `Sun, 06 Nov 1994 08:49:37 GMT` (also with `GMT+00:00`),
 * `Sunday, 06-Nov-94 08:49:37 GMT` or `Sun Nov  6 08:49:37 1994`; NO_TIME otherwise.
 */
export function parseHttpDate(text: string): i64 {
  const c = new Cursor(text.trim());
  if (!c.dayName()) return NO_TIME;
  if (c.literal(",")) {
    c.skipSpaces();
    const d = c.number(2);
    if (c.literal("-")) {                               // RFC 850: 06-Nov-94
      const mon = c.month();
      if (mon < 0 || !c.literal("-")) return NO_TIME;
      const yy = c.number(2);
      if (yy < 0) return NO_TIME;
      c.skipSpaces();
      const secs = c.clock();
      c.skipSpaces();
      if (!c.literal("GMT") || !c.done) return NO_TIME;
      return toMillis(yy < 69 ? 2000 + yy : 1900 + yy, mon, d, secs);
    }
    c.skipSpaces();                                     // IMF-fixdate: 06 Nov 1994
    const mon = c.month();
    c.skipSpaces();
    const y = c.number(4);
    c.skipSpaces();
    const secs = c.clock();
    c.skipSpaces();
    if (!c.literal("GMT")) return NO_TIME;
    if (!c.done && !c.literal("+00:00")) return NO_TIME;
    if (!c.done || mon < 0 || y < 0) return NO_TIME;
    return toMillis(y, mon, d, secs);
  }
  c.skipSpaces();                                       // asctime: Nov  6 08:49:37 1994
  const mon = c.month();
  c.skipSpaces();
  const d = c.number(2);
  c.skipSpaces();
  const secs = c.clock();
  c.skipSpaces();
  const y = c.number(4);
  if (!c.done || mon < 0 || y < 0) return NO_TIME;
  return toMillis(y, mon, d, secs);
}

/** Epoch milliseconds of an `x-ca-timestamp`: 13+ digits are milliseconds, fewer are seconds. */
export function parseTimestamp(text: string): i64 {
  const s = text.trim();
  if (s.length == 0 || s.length > 16) return NO_TIME;   // 16 digits of ms reach year 2286
  let v: i64 = 0;
  for (let i = 0; i < s.length; i++) {
    const c = <i32>s.charCodeAt(i);
    if (c < 48 || c > 57) return NO_TIME;
    v = v * 10 + (c - 48);
  }
  return s.length >= 13 ? v : v * 1000;
}
