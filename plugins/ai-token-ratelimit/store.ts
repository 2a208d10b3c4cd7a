// Where the windows live. Local mode: shared data (one record per window, CAS-updated, see window.ts).
// Cluster mode: Redis, one hash per window (field = bucket number, value = cost), read and written by
// Lua scripts so that checking every window of a request and charging them is one atomic step, timed
// by Redis's clock so that every gateway replica agrees on the buckets.
import { KvStatus, KvUpdate, kvUpdate, encodeI64s, decodeI64s } from "../../shared/kv";
import { nowMillis, logWarn } from "../../shared/proxy/hostcalls";
import { RedisClient, RedisReply } from "../../shared/redis";
import { RespScript, RespValue, RespType } from "../../shared/resp";
import { BUCKETS, RECORD_FIELDS, advance, adjust, bucketAt, used, waitMs } from "./window";

/** The windows one request is charged against, and what the store said about them. */
export class Charges {
  keys: string[] = [];
  limits: i64[] = [];
  windowMs: i64[] = [];
  costs: i64[] = [];
  // Filled by admit():
  admitted: bool = false;
  /** The store could not answer (see failure_policy); `error` says why. */
  failed: bool = false;
  error: string = "";
  /** Admission time on the store's clock (reconciliation charges the bucket of this time). */
  atMs: i64 = 0;
  usedBefore: i64[] = [];
  fitMs: i64[] = [];
  emptyMs: i64[] = [];

  add(key: string, limit: i64, windowMs: i64, cost: i64): void {
    this.keys.push(key); this.limits.push(limit); this.windowMs.push(windowMs); this.costs.push(cost);
  }
  get length(): i32 { return this.keys.length; }
  /** The first window the request did not fit in (-1: none). */
  rejectedWindow(): i32 {
    for (let i = 0; i < this.keys.length; i++) if (this.usedBefore[i] + this.costs[i] > this.limits[i]) return i;
    return -1;
  }
  reset(): void {
    this.usedBefore = new Array<i64>(this.keys.length);
    this.fitMs = new Array<i64>(this.keys.length);
    this.emptyMs = new Array<i64>(this.keys.length);
  }
}

export interface AdmitDone {
  onAdmitted(c: Charges): void;
}

// ---------------------------------------------------------------- local mode

class AdmitOne extends KvUpdate {
  usedBefore: i64 = 0;
  fitMs: i64 = 0;
  emptyMs: i64 = 0;
  constructor(public nowMs: i64, public windowMs: i64, public cost: i64, public limit: i64, public charge: bool) { super(); }
  apply(current: ArrayBuffer | null): ArrayBuffer | null {
    const r = decodeI64s(current, RECORD_FIELDS);
    advance(r, bucketAt(this.nowMs, this.windowMs));
    this.usedBefore = used(r);
    this.fitMs = waitMs(r, this.nowMs, this.windowMs, this.cost, this.limit, false);
    this.emptyMs = waitMs(r, this.nowMs, this.windowMs, 0, this.limit, true);
    if (!this.charge || this.usedBefore + this.cost > this.limit) return null;
    r[1] += this.cost;
    return encodeI64s(r);
  }
}

class AdjustOne extends KvUpdate {
  constructor(public nowMs: i64, public windowMs: i64, public atMs: i64, public delta: i64) { super(); }
  apply(current: ArrayBuffer | null): ArrayBuffer | null {
    if (current == null && this.delta <= 0) return null;
    const r = decodeI64s(current, RECORD_FIELDS);
    adjust(r, bucketAt(this.nowMs, this.windowMs), bucketAt(this.atMs, this.windowMs), this.delta);
    return encodeI64s(r);
  }
}

/** Checks and charges every window in shared data; windows charged before a rejection are given back. */
export function admitLocal(c: Charges): void {
  const now = nowMillis();
  c.reset();
  c.atMs = now;
  let charging = true;   // false once a window rejected: the rest are only read, for the response headers
  for (let i = 0; i < c.length; i++) {
    const u = new AdmitOne(now, c.windowMs[i], c.costs[i], c.limits[i], charging);
    const s = kvUpdate(c.keys[i], u);
    if (s == KvStatus.Contended || s == KvStatus.Failed) {
      if (charging) undoLocal(c, i, now);
      c.failed = true;
      c.admitted = false;
      c.error = "shared data " + (s == KvStatus.Contended ? "contended" : "unavailable");
      return;
    }
    c.usedBefore[i] = u.usedBefore; c.fitMs[i] = u.fitMs; c.emptyMs[i] = u.emptyMs;
    if (charging && u.usedBefore + c.costs[i] > c.limits[i]) {
      charging = false;
      undoLocal(c, i, now);
    }
  }
  c.admitted = charging;
}

function undoLocal(c: Charges, upTo: i32, now: i64): void {
  for (let j = 0; j < upTo; j++) if (c.costs[j] > 0) kvUpdate(c.keys[j], new AdjustOne(now, c.windowMs[j], now, -c.costs[j]));
}

/** Replaces window i's reservation by the real cost (delta = real - reserved). */
export function reconcileLocal(c: Charges, deltas: i64[]): void {
  const now = nowMillis();
  for (let i = 0; i < c.length; i++) {
    if (deltas[i] != 0) kvUpdate(c.keys[i], new AdjustOne(now, c.windowMs[i], c.atMs, deltas[i]));
  }
}

// ---------------------------------------------------------------- cluster mode

// ARGV[1] = buckets; per window i: limit, window ms, cost. Returns {admitted, now_ms, then per window:
// used before, ms until the cost fits, ms until empty}.
const ADMIT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local B = tonumber(ARGV[1])
local out = {1, now}
local plan = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i - 1])
  local win = tonumber(ARGV[3 * i])
  local cost = tonumber(ARGV[3 * i + 1])
  local b = math.max(1, math.floor(win / B))
  local k = math.floor(now / b)
  local h = redis.call('HGETALL', KEYS[i])
  local used = 0
  local live = {}
  for j = 1, #h, 2 do
    local bk = tonumber(h[j])
    if bk == nil or bk < k - B then
      redis.call('HDEL', KEYS[i], h[j])
    else
      local c = tonumber(h[j + 1]) or 0
      used = used + c
      live[#live + 1] = {bk, c}
    end
  end
  table.sort(live, function(x, y) return x[1] < y[1] end)
  local function wait(excess)
    if excess <= 0 then return 0 end
    for _, e in ipairs(live) do
      excess = excess - e[2]
      if excess <= 0 then return math.max(0, (e[1] + B + 1) * b - now) end
    end
    return win
  end
  local fit = win
  if cost <= limit then fit = wait(used + cost - limit) end
  out[#out + 1] = used
  out[#out + 1] = fit
  out[#out + 1] = wait(used)
  if used + cost > limit then out[1] = 0 end
  plan[i] = {k, b, cost, win}
end
if out[1] == 1 then
  for i = 1, #KEYS do
    local p = plan[i]
    if p[3] > 0 then redis.call('HINCRBY', KEYS[i], p[1], p[3]) end
    redis.call('PEXPIRE', KEYS[i], p[4] + 2 * p[2])
  end
end
return out
`;

// ARGV[1] = buckets; per window i: window ms, admission time ms, delta. Same rules as window.adjust().
const ADJUST_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local B = tonumber(ARGV[1])
for i = 1, #KEYS do
  local win = tonumber(ARGV[3 * i - 1])
  local at = tonumber(ARGV[3 * i])
  local delta = tonumber(ARGV[3 * i + 1])
  local b = math.max(1, math.floor(win / B))
  local k = math.floor(now / b)
  local ka = math.floor(at / b)
  local target = nil
  if k - ka <= B and ka <= k then target = ka elseif delta > 0 then target = k end
  if target ~= nil and delta ~= 0 then
    local v = redis.call('HINCRBY', KEYS[i], target, delta)
    if v <= 0 then redis.call('HDEL', KEYS[i], target) end
    redis.call('PEXPIRE', KEYS[i], win + 2 * b)
  end
end
return 1
`;

const ADMIT = new RespScript(ADMIT_LUA);
const ADJUST = new RespScript(ADJUST_LUA);

class AdmitReply extends RedisReply {
  constructor(public c: Charges, public done: AdmitDone) { super(); }
  onReply(reply: RespValue | null, error: string): void {
    const c = this.c;
    c.reset();
    if (reply == null || reply.type != RespType.Array || reply.items.length != 2 + 3 * c.length) {
      c.failed = true;
      c.admitted = false;
      c.error = reply == null ? error : reply.isError() ? "redis: " + reply.str : "unexpected redis reply";
      this.done.onAdmitted(c);
      return;
    }
    c.admitted = reply.at(0).asInt() == 1;
    c.atMs = reply.at(1).asInt();
    for (let i = 0; i < c.length; i++) {
      c.usedBefore[i] = reply.at(2 + 3 * i).asInt();
      c.fitMs[i] = reply.at(3 + 3 * i).asInt();
      c.emptyMs[i] = reply.at(4 + 3 * i).asInt();
    }
    this.done.onAdmitted(c);
  }
}

/** Reconciliation replies only matter when they report a problem. */
class LogFailure extends RedisReply {
  onReply(reply: RespValue | null, error: string): void {
    if (reply == null) logWarn("reconcile failed: " + error);
    else if (reply.isError()) logWarn("reconcile failed: " + reply.str);
  }
}

/** Sends the admission script; false when the call could not even be dispatched. */
export function admitRedis(redis: RedisClient, c: Charges, done: AdmitDone): bool {
  const args = new Array<string>(1 + 3 * c.length);
  args[0] = BUCKETS.toString();
  for (let i = 0; i < c.length; i++) {
    args[1 + 3 * i] = c.limits[i].toString();
    args[2 + 3 * i] = c.windowMs[i].toString();
    args[3 + 3 * i] = c.costs[i].toString();
  }
  return redis.evalScript(ADMIT, c.keys, args, new AdmitReply(c, done));
}

/**
 * Fire and forget. Sent as EVAL, not EVALSHA: the stream usually ends right after this call, and the
 * NOSCRIPT fallback would run in a reply callback that is dropped with the stream.
 */
export function reconcileRedis(redis: RedisClient, c: Charges, deltas: i64[]): void {
  const keys = new Array<string>();
  const args = new Array<string>();
  args.push(BUCKETS.toString());
  for (let i = 0; i < c.length; i++) {
    if (deltas[i] == 0) continue;
    keys.push(c.keys[i]);
    args.push(c.windowMs[i].toString());
    args.push(c.atMs.toString());
    args.push(deltas[i].toString());
  }
  if (keys.length > 0 && !redis.send(ADJUST.eval(keys, args), null, new LogFailure())) logWarn("reconcile could not be sent to redis");
}
