// The sliding window behind every limit (local mode here; cluster mode runs the same algorithm in Lua,
// see store.ts).
//
// A window of W ms is cut into BUCKETS buckets of W/BUCKETS ms. A request is admitted when the counts of
// the current bucket and the BUCKETS before it, plus its cost, stay within the limit. Those BUCKETS+1
// buckets always cover the last W ms, so no W-long stretch of time, wherever it starts, ever holds more
// than the limit of admitted cost: no burst of twice the limit where a fixed window turns over, and
// unlike a token bucket (whose bucket refills while it is being drained) no 2x either. The price is that
// up to one bucket (W/BUCKETS) of old traffic is still counted: under saturation at least
// BUCKETS/(BUCKETS+1) of the limit is usable.
//
// Reconciliation adds the difference between the real and the reserved cost to the bucket the request
// was admitted in, so the window counts each request's real cost at the time it was admitted.
//
// Record layout (i64 fields, shared/kv.ts encoding): [lastBucket, c0, c1, ..., cB] where cj is the cost
// admitted in bucket lastBucket-j.

export const BUCKETS: i32 = 20;
export const RECORD_FIELDS: i32 = BUCKETS + 2;

@inline export function bucketMs(windowMs: i64): i64 {
  const b = windowMs / BUCKETS;
  return b > 0 ? b : 1;
}
@inline export function bucketAt(nowMs: i64, windowMs: i64): i64 { return nowMs / bucketMs(windowMs); }

/** Moves the record forward to bucket `k` (a clock that went back leaves it where it is). */
export function advance(r: StaticArray<i64>, k: i64): void {
  const last = r[0];
  const shift = k - last;
  if (shift <= 0) return;
  if (shift > <i64>BUCKETS) {
    for (let j = 1; j < RECORD_FIELDS; j++) unchecked(r[j] = 0);
  } else {
    const s = <i32>shift;
    for (let j = BUCKETS; j >= s; j--) unchecked(r[j + 1] = r[j + 1 - s]);
    for (let j = 0; j < s; j++) unchecked(r[j + 1] = 0);
  }
  r[0] = k;
}

/** Cost admitted in the buckets that still count (record already advanced). */
export function used(r: StaticArray<i64>): i64 {
  let sum: i64 = 0;
  for (let j = 1; j < RECORD_FIELDS; j++) sum += unchecked(r[j]);
  return sum;
}

/**
 * Adds `delta` (real minus reserved cost) to bucket `admittedBucket`. If that bucket no longer counts,
 * a refund is dropped and an extra charge lands in the current bucket.
 */
export function adjust(r: StaticArray<i64>, k: i64, admittedBucket: i64, delta: i64): void {
  advance(r, k);
  const age = r[0] - admittedBucket;
  let j: i32 = 0;
  if (age >= 0 && age <= <i64>BUCKETS) j = <i32>age;
  else if (delta < 0) return;
  const v = r[j + 1] + delta;
  r[j + 1] = v > 0 ? v : 0;
}

/**
 * Milliseconds from `nowMs` until `cost` more would fit under `limit` (assuming no new traffic),
 * and until nothing admitted so far counts any more. A cost above the limit never fits: the window length.
 */
export function waitMs(r: StaticArray<i64>, nowMs: i64, windowMs: i64, cost: i64, limit: i64, untilEmpty: bool): i64 {
  const b = bucketMs(windowMs);
  const k = r[0];
  let excess = untilEmpty ? used(r) : used(r) + cost - limit;
  if (!untilEmpty && cost > limit) return windowMs;
  if (excess <= 0) return 0;
  for (let j = BUCKETS; j >= 0; j--) {
    excess -= unchecked(r[j + 1]);
    if (excess <= 0) {
      // Bucket k-j stops counting when bucket k-j+BUCKETS+1 begins.
      const t = (k - j + BUCKETS + 1) * b - nowMs;
      return t > 0 ? t : 0;
    }
  }
  return windowMs;
}
