// The decisions themselves, as pure functions of what the stores and the host report (unit-tested in
// tests/unit/lb.spec.ts). Cluster mode runs the same prefix/least-request rule inside Redis (cluster.ts's
// PICK_LUA mirrors pickByScore line for line, and a test checks both agree).

/**
 * prefix_cache score, in prompt tokens: a host earns the tokens of its cached prefix and pays
 * `inflightCost` per request it is already running:
 *
 *     score(h) = matchedBlocks(h) * blockTokens - inflightCost * inflight(h)
 *
 * Hot-spot guard: only hosts with inflight(h) - least <= max(hotMargin, (hotFactor - 1) * least) may
 * be picked, so a popular prefix spills over to another host (which then caches it too) instead of
 * piling onto its first owner. With no prefix information every score is -cost * load: least request.
 */
export class ScoreParams {
  blockTokens: f64 = 64;
  inflightCost: f64 = 256;
  hotMargin: i64 = 2;
  hotFactor: f64 = 1.25;
  /** 0: off; otherwise nobody is picked when even the least loaded host has this many in flight. */
  maxRequestCount: i64 = 0;
}

/** Index of the host to use, or -1 when every host is at maxRequestCount (or there is none). `tie` rotates among equals. */
export function pickByScore(loads: i64[], matched: i32[], p: ScoreParams, tie: u32): i32 {
  const n = loads.length;
  if (n == 0 || matched.length != n) return -1;
  let least = loads[0];
  for (let i = 1; i < n; i++) if (loads[i] < least) least = loads[i];
  if (p.maxRequestCount > 0 && least >= p.maxRequestCount) return -1;
  const slack = max(<f64>p.hotMargin, (p.hotFactor - 1) * <f64>least);
  let best = -1;
  let bestScore: f64 = 0;
  for (let k = 0; k < n; k++) {
    const i = <i32>((<u64>tie + <u64>k) % <u64>n);
    if (<f64>(loads[i] - least) > slack) continue;
    const s = <f64>matched[i] * p.blockTokens - p.inflightCost * <f64>loads[i];
    if (best < 0 || s > bestScore || (s == bestScore && loads[i] < loads[best])) {
      best = i;
      bestScore = s;
    }
  }
  return best;
}

/** The largest entry (0 when empty). */
export function maxOf(v: i32[]): i32 {
  let m = 0;
  for (let i = 0; i < v.length; i++) if (v[i] > m) m = v[i];
  return m;
}

/**
 * Smooth weighted round robin (nginx's): every host gains its weight, the richest is picked and pays
 * the total. Interleaves (5,1,1) as a a b a c a a rather than a a a a a b c. `current` is updated.
 */
export function smoothWrr(current: i64[], weights: i64[]): i32 {
  const n = weights.length;
  if (current.length != n) return -1;
  let total: i64 = 0;
  let best = -1;
  for (let i = 0; i < n; i++) {
    const w = weights[i];
    if (w <= 0) continue;
    current[i] += w;
    total += w;
    if (best < 0 || current[i] > current[best]) best = i;
  }
  if (best >= 0) current[best] -= total;
  return best;
}

/** FNV-1a over the UTF-16 code units, 64 bit, with a final mix so nearby inputs spread. */
export function hash64(s: string): u64 {
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < s.length; i++) {
    h ^= <u64>s.charCodeAt(i);
    h *= 0x100000001b3;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return h;
}

/**
 * Rendezvous (highest random weight) hashing: every host scores hash(key, host) and the best wins,
 * so removing a host moves only the keys it owned, with no ring to keep. Weighted by -w / ln(u).
 */
export function rendezvous(key: string, hosts: string[], weights: i64[]): i32 {
  let best = -1;
  let bestScore: f64 = 0;
  for (let i = 0; i < hosts.length && i < weights.length; i++) {
    const w = weights[i];
    if (w <= 0) continue;
    const u = (<f64>(hash64(key + "\u0000" + hosts[i]) >> 11) + 0.5) / 9007199254740992.0; // (0, 1)
    const s = <f64>w / -Math.log(u);
    if (best < 0 || s > bestScore) { best = i; bestScore = s; }
  }
  return best;
}

/**
 * Higress's (GIE's) range filter: keep the entries of `idx` whose value lies within (max - min) / n of
 * the best (the lowest when `least`, else the highest). NaN values (no metric) are dropped, unless all are.
 */
export function rangeFilter(values: f64[], idx: i32[], least: bool): i32[] {
  let lo = Infinity, hi = -Infinity;
  let n = 0;
  for (let k = 0; k < idx.length; k++) {
    const v = values[idx[k]];
    if (isNaN(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    n++;
  }
  if (n == 0) return idx;
  const band = (hi - lo) / <f64>n;
  const out = new Array<i32>();
  for (let k = 0; k < idx.length; k++) {
    const v = values[idx[k]];
    if (isNaN(v)) continue;
    if (least ? v <= lo + band : v >= hi - band) out.push(idx[k]);
  }
  return out;
}

/**
 * The value of a gauge in Prometheus text: the sum over its series (NaN when it has none). A line
 * counts when it starts with `name` followed by `{` or a space; the value is the field after the labels.
 */
export function metricValue(text: string, name: string): f64 {
  let sum: f64 = 0;
  let found = false;
  let pos = 0;
  const len = text.length;
  while (pos < len) {
    let end = text.indexOf("\n", pos);
    if (end < 0) end = len;
    if (text.startsWith(name, pos) && pos + name.length < end) {
      const c = text.charCodeAt(pos + name.length);
      let at = -1;
      if (c == 0x7b) {          // '{': skip the label set (values are quoted; a quoted '}' is skipped too)
        let q = false;
        for (let j = pos + name.length + 1; j < end; j++) {
          const d = text.charCodeAt(j);
          if (q) { if (d == 0x5c) j++; else if (d == 0x22) q = false; }
          else if (d == 0x22) q = true;
          else if (d == 0x7d) { at = j + 1; break; }
        }
      } else if (c == 0x20) at = pos + name.length;
      if (at >= 0) {
        while (at < end && text.charCodeAt(at) == 0x20) at++;
        let stop = at;
        while (stop < end && text.charCodeAt(stop) != 0x20 && text.charCodeAt(stop) != 0x0d) stop++;
        const v = parseFloat(text.substring(at, stop));
        if (!isNaN(v)) { sum += v; found = true; }
      }
    }
    pos = end + 1;
  }
  return found ? sum : NaN;
}

/** A small PRNG (xorshift32) for random picks among equals. */
export class Rng {
  constructor(public state: u32) { if (this.state == 0) this.state = 0x9e3779b9; }
  next(): u32 {
    let x = this.state;
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    this.state = x;
    return x;
  }
  /** Uniform in [0, n); 0 when n <= 0. */
  below(n: i32): i32 { return n <= 0 ? 0 : <i32>(this.next() % <u32>n); }
}
