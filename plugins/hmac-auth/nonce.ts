// Replay protection: an x-ca-nonce is accepted once per access key while the signed request
// could still pass the date window.
//
// Local store (one gateway): Envoy shared data, common to all worker VMs. Shared data has no
// delete and no expiry, so nonces live in a fixed ring of keys that get reused:
//   key  "hmac-auth.nonce.<bucket span ms>.<bucket mod RING>.<shard>"
//   value u64 bucket number, then one u64 fingerprint per nonce seen in that bucket
// A request is filed under the bucket of its signed time (a replay carries the same signed time,
// so it lands in the same bucket). A value holding another bucket number is stale and is
// overwritten. With a date window W the bucket span is W: the signed times the window still
// accepts fall in at most three consecutive buckets, so a ring of four never overwrites a live
// one. Updates are CAS loops (shared/kv.ts). Redis store (a cluster): SET key NX PX.
import { KvStatus, KvUpdate, kvGet, kvInit, kvUpdate } from "../../shared/kv";
import { RespValue, RespType } from "../../shared/resp";

const RING: i64 = 4;
const SHARDS: u32 = 1024;

/** FNV-1a 64 over the UTF-16 units of `key`, a newline and `nonce`. */
export function nonceFingerprint(key: string, nonce: string): u64 {
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < key.length; i++) { h ^= <u64>key.charCodeAt(i); h *= 0x100000001b3; }
  h ^= 10; h *= 0x100000001b3;
  for (let i = 0; i < nonce.length; i++) { h ^= <u64>nonce.charCodeAt(i); h *= 0x100000001b3; }
  return h;
}

/** Keys carry the bucket span too: routes with different date windows must not share slots. */
function slotKey(bucketMs: i64, bucket: i64, shard: u32): string {
  const slot = ((bucket % RING) + RING) % RING;
  return "hmac-auth.nonce." + bucketMs.toString() + "." + slot.toString() + "." + shard.toString();
}

/** Whether `value` is bucket `bucket`'s and holds `fp`. */
function holds(value: ArrayBuffer, bucket: i64, fp: u64): bool {
  const n = value.byteLength;
  if (n < 8) return false;
  const p = changetype<usize>(value);
  if (load<i64>(p) != bucket) return false;
  for (let off = 8; off + 8 <= n; off += 8) if (load<u64>(p + <usize>off) == fp) return true;
  return false;
}

/** `value` (if it is this bucket's) with `fp` appended, or a fresh value for the bucket. */
function withFingerprint(value: ArrayBuffer | null, bucket: i64, fp: u64): ArrayBuffer {
  let keep: i32 = 8;   // the bucket number alone
  if (value != null && value.byteLength >= 8 && load<i64>(changetype<usize>(value)) == bucket) keep = value.byteLength & ~7;
  const out = new ArrayBuffer(keep + 8);
  const p = changetype<usize>(out);
  if (keep > 8 && value != null) memory.copy(p, changetype<usize>(value), <usize>keep);
  else store<i64>(p, bucket);
  store<u64>(p + <usize>keep, fp);
  return out;
}

export const enum Claim { Fresh, Replayed, StoreFailed }

/** Adds a fingerprint to its bucket's value; writes nothing (a replay) when it is there already. */
class AddFingerprint extends KvUpdate {
  constructor(public bucket: i64, public fp: u64) { super(); }
  apply(current: ArrayBuffer | null): ArrayBuffer | null {
    if (current != null && holds(current, this.bucket, this.fp)) return null;
    return withFingerprint(current, this.bucket, this.fp);
  }
}

/** Call at configure time, before traffic (key creation is serialized by kv's lock). */
export function prepareLocalNonces(): void { kvInit(); }

/**
 * Records `fp` for a request anchored at `anchorMs` in buckets of `bucketMs`. With `lookback` 1
 * the previous bucket is searched too: used when there is no date window and the anchor is the
 * arrival time, so a nonce is then remembered for one to two bucket spans.
 */
export function claimLocalNonce(fp: u64, anchorMs: i64, bucketMs: i64, lookback: i32): Claim {
  const bucket = floorDiv(anchorMs, bucketMs);
  const shard = <u32>(fp >> 54) % SHARDS;
  for (let back = 1; back <= lookback; back++) {
    const old = kvGet(slotKey(bucketMs, bucket - back, shard));
    if (old != null && holds(old, bucket - back, fp)) return Claim.Replayed;
  }
  const s = kvUpdate(slotKey(bucketMs, bucket, shard), new AddFingerprint(bucket, fp));
  return s == KvStatus.Ok ? Claim.Fresh : s == KvStatus.Unchanged ? Claim.Replayed : Claim.StoreFailed;
}

function floorDiv(a: i64, b: i64): i64 {
  if (b <= 0) return 0;
  const q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/** `SET <prefix><ak>:<nonce> 1 NX PX <ttl>`: the reply says whether the nonce was new. */
export function redisClaimArgs(prefix: string, key: string, nonce: string, ttlMs: i64): string[] {
  return ["SET", prefix + key + ":" + nonce, "1", "NX", "PX", (ttlMs < 1 ? 1 : ttlMs).toString()];
}

/** The outcome of that SET: OK → fresh, nil → replayed, anything else → the store failed. */
export function redisClaimResult(reply: RespValue | null): Claim {
  if (reply == null) return Claim.StoreFailed;
  if (reply.type == RespType.Simple && reply.str == "OK") return Claim.Fresh;
  if (reply.type == RespType.Null) return Claim.Replayed;
  return Claim.StoreFailed;
}
