// A small regular-expression matcher that cannot be driven into exponential time or a trap.
// Patterns compile to a Thompson NFA that a Pike VM runs over the input's code points:
// O(len(input) × len(program)) time, no backtracking, no recursion on the input.
//
// Syntax (Go RE2 subset, the dialect Higress configs are written in):
//   literals, `.`, `[...]` / `[^...]` with ranges and escapes, `\d \D \w \W \s \S`, `\b \B`,
//   `^ $` (whole text; with (?m) also at line breaks), `* + ?` and `{n} {n,} {n,m}` (lazy `?` suffix
//   accepted; it does not change whether a text matches), `|`, `(...)`, `(?:...)`, `(?P<name>...)`,
//   `(?<name>...)`, flags `(?i) (?s) (?m)` and `(?flags:...)`, escapes `\t \n \r \f \v \x41 \x{263a}`
//   and escaped punctuation. (?i) folds ASCII letters only.
// Refused (compileRegex returns null, regexError() says why): \p{..}, [[:alpha:]], backreferences,
// look-around, nesting deeper than 100 groups, repeat counts over 1000, programs over 20000 steps.
//
//   const re = compileRegex("^sk-[a-z0-9]{8,}$");   // null on a bad pattern
//   re.test("sk-12345678")        // true: a match anywhere (Go's MatchString)
//   re.matchesWhole("xx")         // the whole text must match

const MAX_DEPTH = 100;
const MAX_REPEAT = 1000;
const MAX_PROGRAM = 20000;

let lastError = "";
/** Why the last compileRegex returned null. */
export function regexError(): string { return lastError; }

// ---------------------------------------------------------------- AST
const enum NodeKind { Empty, Char, Any, Class, Cat, Alt, Repeat, Bol, Eol, WordB, NotWordB }

class Node {
  kind: NodeKind;
  ch: i32 = 0;                 // Char: code point; Any: 1 when it also matches '\n'; Bol/Eol: 1 in multi-line mode
  cls: CharClass | null = null;
  kids: Node[] = [];
  min: i32 = 0;
  max: i32 = -1;               // Repeat: -1 = unbounded
  constructor(kind: NodeKind) { this.kind = kind; }
}

/** Sorted-or-not list of inclusive code-point ranges, optionally negated. */
class CharClass {
  ranges: i32[] = [];
  negated: bool = false;
  add(lo: i32, hi: i32): void { this.ranges.push(lo); this.ranges.push(hi); }
  addClass(o: CharClass): void {
    // Only non-negated classes (\d, \w, \s) are merged directly; negated ones (\D ...) are complemented first.
    if (!o.negated) { for (let i = 0; i < o.ranges.length; i++) this.ranges.push(o.ranges[i]); return; }
    const comp = complement(o.ranges);
    for (let i = 0; i < comp.length; i++) this.ranges.push(comp[i]);
  }
  contains(c: i32): bool {
    let hit = false;
    const r = this.ranges;
    for (let i = 0; i + 1 < r.length; i += 2) {
      if (c >= unchecked(r[i]) && c <= unchecked(r[i + 1])) { hit = true; break; }
    }
    return hit != this.negated;
  }
}

function complement(ranges: i32[]): i32[] {
  // Sort pairs by start, merge, then take the gaps in [0, 0x10FFFF].
  const n = ranges.length >> 1;
  const lo = new Array<i32>(n);
  const hi = new Array<i32>(n);
  for (let i = 0; i < n; i++) { lo[i] = ranges[2 * i]; hi[i] = ranges[2 * i + 1]; }
  for (let i = 1; i < n; i++) {
    const l = lo[i]; const h = hi[i];
    let j = i - 1;
    while (j >= 0 && lo[j] > l) { lo[j + 1] = lo[j]; hi[j + 1] = hi[j]; j--; }
    lo[j + 1] = l; hi[j + 1] = h;
  }
  const out = new Array<i32>();
  let next = 0;
  for (let i = 0; i < n; i++) {
    if (lo[i] > next) { out.push(next); out.push(lo[i] - 1); }
    if (hi[i] + 1 > next) next = hi[i] + 1;
  }
  if (next <= 0x10FFFF) { out.push(next); out.push(0x10FFFF); }
  return out;
}

function digitClass(): CharClass { const c = new CharClass(); c.add(48, 57); return c; }
function wordClass(): CharClass { const c = new CharClass(); c.add(48, 57); c.add(65, 90); c.add(97, 122); c.add(95, 95); return c; }
function spaceClass(): CharClass { const c = new CharClass(); c.add(9, 10); c.add(12, 13); c.add(32, 32); return c; }

@inline function isWordChar(c: i32): bool {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95;
}
@inline function isAsciiLetter(c: i32): bool { return (c >= 65 && c <= 90) || (c >= 97 && c <= 122); }

/** Adds the other-case ASCII letters of every range (for (?i)). */
function foldClass(c: CharClass): void {
  const n = c.ranges.length;
  for (let i = 0; i + 1 < n; i += 2) {
    const lo = c.ranges[i]; const hi = c.ranges[i + 1];
    const ulo = max(lo, 65); const uhi = min(hi, 90);
    if (ulo <= uhi) c.add(ulo + 32, uhi + 32);
    const llo = max(lo, 97); const lhi = min(hi, 122);
    if (llo <= lhi) c.add(llo - 32, lhi - 32);
  }
}

// ---------------------------------------------------------------- parser
class Flags {
  constructor(public fold: bool, public dotNl: bool, public multiLine: bool) {}
  copy(): Flags { return new Flags(this.fold, this.dotNl, this.multiLine); }
}

class Parser {
  pos: i32 = 0;
  err: string = "";
  constructor(public src: string) {}

  get done(): bool { return this.pos >= this.src.length; }
  peek(): i32 { return this.pos < this.src.length ? this.codeAt(this.pos) : -1; }
  codeAt(i: i32): i32 {
    const c = this.src.charCodeAt(i);
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < this.src.length) {
      const d = this.src.charCodeAt(i + 1);
      if (d >= 0xDC00 && d <= 0xDFFF) return 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
    }
    return c;
  }
  next(): i32 {
    const c = this.peek();
    if (c >= 0) this.pos += c >= 0x10000 ? 2 : 1;
    return c;
  }
  fail(why: string): Node | null {
    if (this.err.length == 0) this.err = why + " at offset " + this.pos.toString();
    return null;
  }

  /** alternation := concat ('|' concat)* */
  parseAlt(flags: Flags, depth: i32): Node | null {
    if (depth > MAX_DEPTH) return this.fail("groups nested too deeply");
    const alts = new Array<Node>();
    const first = this.parseCat(flags, depth);
    if (first == null) return null;
    alts.push(first);
    while (this.peek() == 124 /* | */) {
      this.next();
      const n = this.parseCat(flags, depth);
      if (n == null) return null;
      alts.push(n);
    }
    if (alts.length == 1) return alts[0];
    const a = new Node(NodeKind.Alt);
    a.kids = alts;
    return a;
  }

  parseCat(flags: Flags, depth: i32): Node | null {
    const items = new Array<Node>();
    while (!this.done) {
      const c = this.peek();
      if (c == 124 || c == 41) break;            // | )
      const atom = this.parseAtom(flags, depth);
      if (atom == null) {
        if (this.err.length) return null;
        continue;                                  // a flag group like (?i) yields no node
      }
      const rep = this.parseRepeat(atom);
      if (rep == null) return null;
      items.push(rep);
    }
    if (items.length == 1) return items[0];
    const n = new Node(items.length == 0 ? NodeKind.Empty : NodeKind.Cat);
    n.kids = items;
    return n;
  }

  parseRepeat(atom: Node): Node | null {
    let node = atom;
    let repeated = false;
    while (!this.done) {
      const c = this.peek();
      let lo = 0, hi = -1;
      if (c == 42) { this.next(); }                         // *
      else if (c == 43) { this.next(); lo = 1; }           // +
      else if (c == 63) { this.next(); hi = 1; }           // ?
      else if (c == 123) {                                  // {n,m}; a '{' that is not a count is a literal
        const save = this.pos;
        this.next();
        const n1 = this.parseInt();
        if (n1 < 0) { this.pos = save; break; }
        lo = n1; hi = n1;
        if (this.peek() == 44) {
          this.next();
          if (this.peek() == 125) hi = -1;
          else {
            const n2 = this.parseInt();
            if (n2 < 0) { this.pos = save; break; }
            hi = n2;
          }
        }
        if (this.peek() != 125) { this.pos = save; break; }
        this.next();
        if (lo > MAX_REPEAT || hi > MAX_REPEAT) return this.fail("repeat count over " + MAX_REPEAT.toString());
        if (hi >= 0 && hi < lo) return this.fail("invalid repeat range");
      } else break;
      if (repeated) return this.fail("nested repetition operator");
      if (atom.kind == NodeKind.Bol || atom.kind == NodeKind.Eol || atom.kind == NodeKind.Empty) {
        // Go allows ^* etc.; they match the empty string, which Repeat handles fine.
      }
      if (this.peek() == 63) this.next();                  // lazy suffix: same language
      const r = new Node(NodeKind.Repeat);
      r.kids = [node];
      r.min = lo; r.max = hi;
      node = r;
      repeated = true;
    }
    return node;
  }

  parseInt(): i32 {
    let n = 0, digits = 0;
    while (!this.done) {
      const c = this.peek();
      if (c < 48 || c > 57) break;
      this.next();
      if (n < 100000) n = n * 10 + (c - 48);
      digits++;
    }
    return digits == 0 ? -1 : n;
  }

  /** One atom; null with no error for a bare flag group such as (?i). */
  parseAtom(flags: Flags, depth: i32): Node | null {
    const c = this.next();
    switch (c) {
      case 40: return this.parseGroup(flags, depth);                // (
      case 46: { const n = new Node(NodeKind.Any); n.ch = flags.dotNl ? 1 : 0; return n; }
      case 94: { const n = new Node(NodeKind.Bol); n.ch = flags.multiLine ? 1 : 0; return n; }
      case 36: { const n = new Node(NodeKind.Eol); n.ch = flags.multiLine ? 1 : 0; return n; }
      case 91: return this.parseClass(flags);                        // [
      case 42: case 43: case 63: return this.fail("missing argument to repetition operator");
      case 92: return this.parseEscape(flags, false);
      default: return literal(c, flags);
    }
  }

  parseGroup(flags: Flags, depth: i32): Node | null {
    let inner = flags.copy();
    if (this.peek() == 63) {                                        // (?
      this.next();
      let c = this.peek();
      if (c == 80 || c == 60) {                                     // (?P<name> or (?<name>
        if (c == 80) this.next();
        if (this.next() != 60) return this.fail("invalid named group");
        let named = false;
        while (!this.done) {
          const d = this.next();
          if (d == 62) { named = true; break; }
          if (!isWordChar(d)) return this.fail("invalid group name");
        }
        if (!named) return this.fail("unterminated group name");
      } else {
        let on = true;
        let sawFlag = false;
        while (true) {
          c = this.next();
          if (c == 105) { inner.fold = on; sawFlag = true; }
          else if (c == 115) { inner.dotNl = on; sawFlag = true; }
          else if (c == 109) { inner.multiLine = on; sawFlag = true; }
          else if (c == 85) { sawFlag = true; }                      // U (ungreedy): no effect on matching
          else if (c == 45 && on) { on = false; }
          else if (c == 41) {                                        // (?flags) applies to the rest of the group
            if (!sawFlag) return this.fail("missing flags");
            flags.fold = inner.fold; flags.dotNl = inner.dotNl; flags.multiLine = inner.multiLine;
            return null;
          } else if (c == 58) break;                                 // (?flags:...)
          else return this.fail("unsupported group syntax (look-around and the like are not supported)");
        }
      }
    }
    const body = this.parseAlt(inner, depth + 1);
    if (body == null) return null;
    if (this.next() != 41) return this.fail("missing closing )");
    return body;
  }

  parseClass(flags: Flags): Node | null {
    const cls = new CharClass();
    if (this.peek() == 94) { this.next(); cls.negated = true; }
    let first = true;
    while (true) {
      if (this.done) return this.fail("missing closing ]");
      let c = this.peek();
      if (c == 93 && !first) { this.next(); break; }
      first = false;
      if (c == 91 && this.pos + 1 < this.src.length && this.src.charCodeAt(this.pos + 1) == 58) {
        return this.fail("POSIX classes like [:alpha:] are not supported");
      }
      this.next();
      let lo = c;
      if (c == 92) {
        const e = this.parseEscape(flags, true);
        if (e == null) return null;
        const ec = e.cls;
        if (ec != null) { cls.addClass(ec); continue; }
        lo = e.ch;
      }
      let hi = lo;
      if (this.peek() == 45 && this.pos + 1 < this.src.length && this.src.charCodeAt(this.pos + 1) != 93) {
        this.next();
        let d = this.next();
        if (d == 92) {
          const e = this.parseEscape(flags, true);
          if (e == null) return null;
          if (e.kind != NodeKind.Char) return this.fail("invalid class range");
          d = e.ch;
        }
        if (d < lo) return this.fail("invalid class range");
        hi = d;
      }
      cls.add(lo, hi);
    }
    if (flags.fold) foldClass(cls);
    const n = new Node(NodeKind.Class);
    n.cls = cls;
    return n;
  }

  /** After a backslash. Returns a Char, Class or assertion node. */
  parseEscape(flags: Flags, inClass: bool): Node | null {
    const c = this.next();
    if (c < 0) return this.fail("trailing backslash");
    let cls: CharClass | null = null;
    switch (c) {
      case 100: cls = digitClass(); break;                              // d
      case 68: cls = digitClass(); cls.negated = true; break;           // D
      case 119: cls = wordClass(); break;                               // w
      case 87: cls = wordClass(); cls.negated = true; break;            // W
      case 115: cls = spaceClass(); break;                              // s
      case 83: cls = spaceClass(); cls.negated = true; break;           // S
      case 116: return literal(9, flags);
      case 110: return literal(10, flags);
      case 114: return literal(13, flags);
      case 102: return literal(12, flags);
      case 118: return literal(11, flags);
      case 97: return literal(7, flags);
      case 120: return this.parseHex(flags);
      case 98: if (!inClass) return new Node(NodeKind.WordB); break;   // b
      case 66: if (!inClass) return new Node(NodeKind.NotWordB); break; // B
      case 65: if (!inClass) return new Node(NodeKind.Bol); break;      // \A
      case 122: if (!inClass) return new Node(NodeKind.Eol); break;     // \z
    }
    if (cls != null) {
      const n = new Node(NodeKind.Class);
      n.cls = cls;
      return n;
    }
    // Escaped punctuation is literal; an escaped letter or digit we do not know is an error (as in Go).
    if (c < 128 && (isWordChar(c))) return this.fail("unsupported escape \\" + String.fromCharCode(c));
    return literal(c, flags);
  }

  parseHex(flags: Flags): Node | null {
    let v = 0;
    if (this.peek() == 123) {
      this.next();
      let digits = 0;
      while (this.peek() != 125) {
        const h = hexVal(this.next());
        if (h < 0) return this.fail("invalid \\x{...} escape");
        v = v * 16 + h; digits++;
        if (v > 0x10FFFF) return this.fail("\\x{...} out of range");
      }
      this.next();
      if (digits == 0) return this.fail("empty \\x{} escape");
    } else {
      const a = hexVal(this.next()); const b = hexVal(this.next());
      if (a < 0 || b < 0) return this.fail("invalid \\x escape");
      v = a * 16 + b;
    }
    return literal(v, flags);
  }
}

function hexVal(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function literal(c: i32, flags: Flags): Node {
  if (flags.fold && isAsciiLetter(c)) {
    const cls = new CharClass();
    cls.add(c, c);
    foldClass(cls);
    const n = new Node(NodeKind.Class);
    n.cls = cls;
    return n;
  }
  const n = new Node(NodeKind.Char);
  n.ch = c;
  return n;
}

// ---------------------------------------------------------------- program
const enum Op { Char, Any, AnyNl, Class, Split, Jmp, Match, Bol, BolMulti, Eol, EolMulti, WordB, NotWordB }

class Compiler {
  ops: i32[] = [];       // opcode per instruction
  args: i32[] = [];      // char / class index / jump target x
  args2: i32[] = [];     // jump target y for Split
  classes: CharClass[] = [];
  tooBig: bool = false;

  emit(op: Op, a: i32 = 0, b: i32 = 0): i32 {
    if (this.ops.length >= MAX_PROGRAM) { this.tooBig = true; return this.ops.length - 1; }
    this.ops.push(op); this.args.push(a); this.args2.push(b);
    return this.ops.length - 1;
  }
  get pc(): i32 { return this.ops.length; }

  compile(n: Node): void {
    if (this.tooBig) return;
    switch (n.kind) {
      case NodeKind.Empty: break;
      case NodeKind.Char: this.emit(Op.Char, n.ch); break;
      case NodeKind.Any: this.emit(n.ch == 1 ? Op.AnyNl : Op.Any); break;
      case NodeKind.Class: {
        const cls = n.cls;
        if (cls != null) { this.classes.push(cls); this.emit(Op.Class, this.classes.length - 1); }
        break;
      }
      case NodeKind.Bol: this.emit(n.ch == 1 ? Op.BolMulti : Op.Bol); break;
      case NodeKind.Eol: this.emit(n.ch == 1 ? Op.EolMulti : Op.Eol); break;
      case NodeKind.WordB: this.emit(Op.WordB); break;
      case NodeKind.NotWordB: this.emit(Op.NotWordB); break;
      case NodeKind.Cat: { for (let i = 0; i < n.kids.length; i++) this.compile(n.kids[i]); break; }
      case NodeKind.Alt: {
        // split L1, next; L1: kid0; jmp end; next: split L2, ...; last kid; end:
        const jumps = new Array<i32>();
        for (let i = 0; i < n.kids.length; i++) {
          if (i < n.kids.length - 1) {
            const split = this.emit(Op.Split);
            this.args[split] = this.pc;
            this.compile(n.kids[i]);
            jumps.push(this.emit(Op.Jmp));
            this.args2[split] = this.pc;
          } else this.compile(n.kids[i]);
          if (this.tooBig) return;
        }
        for (let i = 0; i < jumps.length; i++) this.args[jumps[i]] = this.pc;
        break;
      }
      case NodeKind.Repeat: {
        const kid = n.kids[0];
        for (let i = 0; i < n.min; i++) { this.compile(kid); if (this.tooBig) return; }
        if (n.max < 0) {                                     // kid*: L: split body, end; body; jmp L
          const split = this.emit(Op.Split);
          this.args[split] = this.pc;
          this.compile(kid);
          const j = this.emit(Op.Jmp);
          this.args[j] = split;
          this.args2[split] = this.pc;
        } else {
          const splits = new Array<i32>();                    // (kid(kid(kid)?)?)?
          for (let i = n.min; i < n.max; i++) {
            const split = this.emit(Op.Split);
            this.args[split] = this.pc;
            splits.push(split);
            this.compile(kid);
            if (this.tooBig) return;
          }
          for (let i = 0; i < splits.length; i++) this.args2[splits[i]] = this.pc;
        }
        break;
      }
    }
  }
}

// ---------------------------------------------------------------- the matcher
export class Regex {
  ops: StaticArray<i32>;
  args: StaticArray<i32>;
  args2: StaticArray<i32>;
  classes: CharClass[];
  // Thread lists reused between matches (a Regex is used by one VM thread at a time).
  private cur: StaticArray<i32>;
  private nxt: StaticArray<i32>;
  private mark: StaticArray<u32>;
  private stack: StaticArray<i32>;
  private gen: u32 = 0;

  constructor(public pattern: string, c: Compiler) {
    const n = c.ops.length;
    this.ops = StaticArray.fromArray<i32>(c.ops);
    this.args = StaticArray.fromArray<i32>(c.args);
    this.args2 = StaticArray.fromArray<i32>(c.args2);
    this.classes = c.classes;
    this.cur = new StaticArray<i32>(n + 1);
    this.nxt = new StaticArray<i32>(n + 1);
    this.mark = new StaticArray<u32>(n);
    this.stack = new StaticArray<i32>(n * 2 + 2);
  }

  /** True when the pattern matches somewhere in `s` (Go's MatchString). */
  test(s: string): bool { return this.run(s, false); }
  /** True when the pattern matches all of `s`. */
  matchesWhole(s: string): bool { return this.run(s, true); }

  private run(s: string, whole: bool): bool {
    const len = s.length;
    let ncur = 0;
    let prev = -1;          // code point before the position (-1 at the start)
    let i = 0;
    this.nextGen();
    ncur = this.addThread(this.cur, 0, 0, prev, this.codeAt(s, 0), len);
    if (ncur < 0) { if (!whole || len == 0) return true; ncur = ~ncur; }
    while (i < len) {
      const c = this.codeAt(s, i);
      const width = c >= 0x10000 ? 2 : 1;
      const ni = i + width;
      const after = ni < len ? this.codeAt(s, ni) : -1;
      this.nextGen();
      let nnext = 0;
      for (let t = 0; t < ncur; t++) {
        const pc = unchecked(this.cur[t]);
        if (this.step(pc, c)) {
          const r = this.addThread(this.nxt, nnext, pc + 1, c, after, len - ni);
          if (r < 0) {
            if (!whole || ni == len) return true;
            nnext = ~r;
          } else nnext = r;
        }
      }
      if (!whole) {
        // Unanchored: a new attempt may start at every position.
        const r = this.addThread(this.nxt, nnext, 0, c, after, len - ni);
        if (r < 0) return true;
        nnext = r;
      }
      const tmp = this.cur; this.cur = this.nxt; this.nxt = tmp;
      ncur = nnext;
      if (ncur == 0 && whole) return false;
      prev = c;
      i = ni;
    }
    return false;
  }

  /** A fresh mark value for the next batch of addThread calls (marks are cleared when it wraps). */
  private nextGen(): void {
    this.gen++;
    if (this.gen == 0) { this.mark.fill(0); this.gen = 1; }
  }

  @inline private codeAt(s: string, i: i32): i32 {
    if (i >= s.length) return -1;
    const c = <i32>s.charCodeAt(i);
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.length) {
      const d = <i32>s.charCodeAt(i + 1);
      if (d >= 0xDC00 && d <= 0xDFFF) return 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
    }
    return c;
  }

  private step(pc: i32, c: i32): bool {
    switch (unchecked(this.ops[pc])) {
      case Op.Char: return unchecked(this.args[pc]) == c;
      case Op.Any: return c != 10;
      case Op.AnyNl: return true;
      case Op.Class: return this.classes[unchecked(this.args[pc])].contains(c);
      default: return false;
    }
  }

  /**
   * Adds the thread at `pc` and everything reachable through empty steps to `list` (from index n).
   * `before`/`after`: code points around the position (-1 at the edges); `rest`: code units left.
   * Returns the new length, or ~length when Match was reached.
   */
  private addThread(list: StaticArray<i32>, n: i32, pc0: i32, before: i32, after: i32, rest: i32): i32 {
    let sp = 0;
    let matched = false;
    const stack = this.stack;
    const mark = this.mark;
    const size = this.ops.length;
    const gen = this.gen;
    unchecked(stack[sp++] = pc0);
    while (sp > 0) {
      const pc = unchecked(stack[--sp]);
      if (pc >= size) { matched = true; continue; }            // falling off the end is Match
      if (unchecked(mark[pc]) == gen) continue;
      unchecked(mark[pc] = gen);
      switch (unchecked(this.ops[pc])) {
        case Op.Jmp: unchecked(stack[sp++] = this.args[pc]); break;
        case Op.Split:
          unchecked(stack[sp++] = this.args2[pc]);
          unchecked(stack[sp++] = this.args[pc]);
          break;
        case Op.Match: matched = true; break;
        case Op.Bol: if (before < 0) unchecked(stack[sp++] = pc + 1); break;
        case Op.BolMulti: if (before < 0 || before == 10) unchecked(stack[sp++] = pc + 1); break;
        case Op.Eol: if (rest == 0) unchecked(stack[sp++] = pc + 1); break;
        case Op.EolMulti: if (rest == 0 || after == 10) unchecked(stack[sp++] = pc + 1); break;
        case Op.WordB:
          if (isWordChar(before) != isWordChar(after)) unchecked(stack[sp++] = pc + 1);
          break;
        case Op.NotWordB:
          if (isWordChar(before) == isWordChar(after)) unchecked(stack[sp++] = pc + 1);
          break;
        default: unchecked(list[n++] = pc);
      }
    }
    return matched ? ~n : n;
  }
}

/** Compiles a pattern; null when it is invalid or outside the supported subset (see regexError()). */
export function compileRegex(pattern: string): Regex | null {
  lastError = "";
  const p = new Parser(pattern);
  const flags = new Flags(false, false, false);
  const ast = p.parseAlt(flags, 0);
  if (ast == null) { lastError = p.err.length ? p.err : "invalid pattern"; return null; }
  if (!p.done) { lastError = "unexpected ) at offset " + p.pos.toString(); return null; }
  const c = new Compiler();
  c.compile(ast);
  if (c.tooBig) { lastError = "pattern too large (over " + MAX_PROGRAM.toString() + " steps)"; return null; }
  c.emit(Op.Match);
  return new Regex(pattern, c);
}
