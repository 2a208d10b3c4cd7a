// Cluster mode: the same state in Redis, read and written by Lua scripts so that a decision and its
// bookkeeping are one atomic step that every gateway replica sees. Keys of one route+cluster share the
// hash tag {tag}, so a Redis Cluster keeps them in one slot:
//   ai-lb:{tag}:inflight:<host>  sorted set of in-flight request ids scored by start time (ms); ids
//                                older than inflightTimeout drop out, so a lost release heals itself
//   ai-lb:{tag}:p:<block>        hash host -> last use (ms) of one prompt block; PEXPIRE redisKeyTTL
//   ai-lb:{tag}:lru              sorted set of blocks by last use; beyond maxEntries the oldest go
// The baseline (higress_prefix_cache) keeps Higress's own keys: bare XOR keys and
// higress:global_least_request_table:<route>:<cluster>.
import { RedisClient, RedisReply } from "../../shared/redis";
import { RespScript, RespValue } from "../../shared/resp";
import { ScoreParams } from "./choose";
import { hex64 } from "./prompt";

// pickByScore (choose.ts) in Lua, plus the bookkeeping. KEYS: n in-flight sets, m block keys, the LRU
// set (when m > 0). ARGV: n, m, request id, ttl ms, in-flight timeout ms, block tokens, in-flight cost,
// hot-spot margin, hot-spot factor, max entries, max request count, tie, block key prefix, n hosts, m
// block ids. Returns {chosen (1-based; 0 = everyone at max request count), its matched blocks, its
// load, the longest match of any host}.
const PICK_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n, m = tonumber(ARGV[1]), tonumber(ARGV[2])
local ttl, stale = tonumber(ARGV[4]), tonumber(ARGV[5])
local hosts = {}
for i = 1, n do hosts[i] = ARGV[13 + i] end
local load, matched, alive = {}, {}, {}
local least = nil
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - stale)
  load[i] = redis.call('ZCARD', KEYS[i])
  matched[i] = 0
  alive[i] = true
  if least == nil or load[i] < least then least = load[i] end
end
local maxReq = tonumber(ARGV[11])
if maxReq > 0 and least >= maxReq then return {0, 0, least, 0} end
local rows = {}
for b = 1, m do
  local seen = redis.call('HMGET', KEYS[n + b], unpack(hosts))
  rows[b] = seen
  local any = false
  for i = 1, n do
    if alive[i] then
      local ts = tonumber(seen[i])
      if ts and now - ts <= ttl then matched[i] = b; any = true else alive[i] = false end
    end
  end
  if not any then break end
end
local bt, cost, tie = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[12])
local slack = math.max(tonumber(ARGV[8]), (tonumber(ARGV[9]) - 1) * least)
local best, bestScore, longest = 0, 0, 0
for k = 0, n - 1 do
  local i = (tie + k) % n + 1
  if matched[i] > longest then longest = matched[i] end
  if load[i] - least <= slack then
    local s = matched[i] * bt - cost * load[i]
    if best == 0 or s > bestScore or (s == bestScore and load[i] < load[best]) then best, bestScore = i, s end
  end
end
redis.call('ZADD', KEYS[best], now, ARGV[3])
redis.call('PEXPIRE', KEYS[best], stale)
if m > 0 then
  local lru = KEYS[n + m + 1]
  for b = 1, m do
    -- A block this host used within the last quarter TTL is left as it is (fewer writes for sticky sessions).
    local ts = rows[b] and tonumber(rows[b][best])
    if not ts or now - ts > ttl / 4 then
      redis.call('HSET', KEYS[n + b], hosts[best], now)
      redis.call('PEXPIRE', KEYS[n + b], ttl)
      redis.call('ZADD', lru, now, ARGV[13 + n + b])
    end
  end
  local over = redis.call('ZCARD', lru) - tonumber(ARGV[10])
  if over > 0 then
    local old = redis.call('ZRANGE', lru, 0, over - 1)
    redis.call('ZREMRANGEBYRANK', lru, 0, over - 1)
    for _, id in ipairs(old) do redis.call('DEL', ARGV[13] .. id) end
  end
  redis.call('PEXPIRE', lru, ttl)
end
return {best, matched[best], load[best], longest}
`;
const PICK = new RespScript(PICK_LUA);

// Higress 2.1's prefix_cache, written anew from its description (higress-plugins.md §2): follow the
// longest existing prefix key while its host is healthy; else Higress's least request (start from a
// random default host and only compare if that host has a count; ties by coin flip); count +1; point
// the remaining prefix keys at the target. KEYS: count hash, prefix keys. ARGV: ttl s, default host,
// seed for the coin flips, healthy hosts.
const HIGRESS_LUA = `
local ttl = tonumber(ARGV[1])
local healthy = {}
for i = 4, #ARGV do healthy[ARGV[i]] = true end
local target, index = nil, 2
while index <= #KEYS do
  local host = redis.call('GET', KEYS[index])
  if not host or not healthy[host] then break end
  target = host
  redis.call('EXPIRE', KEYS[index], ttl)
  index = index + 1
end
if not target then
  target = ARGV[2]
  local cur = redis.call('HGET', KEYS[1], target)
  if cur then
    cur = tonumber(cur)
    local seed = tonumber(ARGV[3])
    local all = redis.call('HGETALL', KEYS[1])
    for i = 1, #all, 2 do
      local h, c = all[i], tonumber(all[i + 1])
      if healthy[h] then
        seed = (seed * 1103515245 + 12345) % 2147483648
        if c < cur or (c == cur and seed >= 1073741824) then target, cur = h, c end
      end
    end
  end
end
redis.call('HINCRBY', KEYS[1], target, 1)
for k = index, #KEYS do
  redis.call('SET', KEYS[k], target)
  redis.call('EXPIRE', KEYS[k], ttl)
end
return target
`;
const HIGRESS = new RespScript(HIGRESS_LUA);

/** `{tag}` for a route and cluster, braces removed so the tag stays one hash tag. */
export function hashTag(tag: string): string {
  return "{" + tag.replaceAll("{", "").replaceAll("}", "") + "}";
}
export function inflightKey(tag: string, host: string): string { return "ai-lb:" + hashTag(tag) + ":inflight:" + host; }
/** inflightKey of every host, the tag's hash tag built once. */
export function inflightKeys(tag: string, hosts: string[]): string[] {
  const prefix = "ai-lb:" + hashTag(tag) + ":inflight:";
  const keys = new Array<string>(hosts.length);
  for (let i = 0; i < hosts.length; i++) keys[i] = prefix + hosts[i];
  return keys;
}

/** Receives the result of redisPick. `index` is -1 when everyone is at max request count. */
export abstract class PickDone {
  abstract onPicked(index: i32, matched: i32, load: i64, longest: i32): void;
  abstract onPickFailed(error: string): void;
}

class PickReply extends RedisReply {
  constructor(public done: PickDone, public n: i32) { super(); }
  onReply(reply: RespValue | null, error: string): void {
    if (reply == null) { this.done.onPickFailed(error); return; }
    if (reply.isError()) { this.done.onPickFailed("redis: " + reply.str); return; }
    const idx = reply.at(0).asInt(-1);
    if (idx < 0 || idx > <i64>this.n) { this.done.onPickFailed("unexpected reply from the pick script"); return; }
    this.done.onPicked(<i32>idx - 1, <i32>reply.at(1).asInt(0), reply.at(2).asInt(0), <i32>reply.at(3).asInt(0));
  }
}

/**
 * Runs the pick atomically in Redis; false when the call could not be sent. `inflight` is
 * inflightKeys(tag, hosts), which the caller keeps to release the request later.
 */
export function redisPick(redis: RedisClient, tag: string, hosts: string[], inflight: string[], blocks: u64[], reqId: string,
  p: ScoreParams, ttlMs: i64, inflightTimeoutMs: i64, maxEntries: i32, tie: u32, done: PickDone): bool {
  const keys = inflight.slice(0);
  const ht = hashTag(tag);
  const prefix = "ai-lb:" + ht + ":p:";
  const ids = new Array<string>(blocks.length);
  for (let b = 0; b < blocks.length; b++) { ids[b] = hex64(blocks[b]); keys.push(prefix + ids[b]); }
  if (blocks.length > 0) keys.push("ai-lb:" + ht + ":lru");
  const args: string[] = [
    hosts.length.toString(), blocks.length.toString(), reqId, ttlMs.toString(), inflightTimeoutMs.toString(),
    p.blockTokens.toString(), p.inflightCost.toString(), p.hotMargin.toString(), p.hotFactor.toString(),
    maxEntries.toString(), p.maxRequestCount.toString(), tie.toString(), prefix,
  ];
  for (let i = 0; i < hosts.length; i++) args.push(hosts[i]);
  for (let b = 0; b < ids.length; b++) args.push(ids[b]);
  return redis.evalScript(PICK, keys, args, new PickReply(done, hosts.length));
}

class Ignore extends RedisReply {
  onReply(reply: RespValue | null, error: string): void {}
}

/**
 * Removes the request from the in-flight sets (one after a pick; every candidate if the pick is still on
 * its way: Redis runs these after the pick, on the same connection). Plain ZREMs, not a script: this
 * runs as the stream ends, when a reply can no longer be delivered, so an EVALSHA that met NOSCRIPT
 * would never be retried with EVAL.
 */
export function redisRelease(redis: RedisClient, keys: string[], reqId: string): void {
  for (let i = 0; i < keys.length; i++) redis.call(["ZREM", keys[i], reqId], new Ignore());
}

export abstract class HigressDone {
  abstract onHigressPicked(host: string): void;
  abstract onPickFailed(error: string): void;
}

class HigressReply extends RedisReply {
  constructor(public done: HigressDone) { super(); }
  onReply(reply: RespValue | null, error: string): void {
    if (reply == null) { this.done.onPickFailed(error); return; }
    if (reply.isError() || reply.isNull()) { this.done.onPickFailed("redis: " + reply.str); return; }
    this.done.onHigressPicked(reply.asString());
  }
}

export function higressCountKey(route: string, cluster: string): string {
  return "higress:global_least_request_table:" + route + ":" + cluster;
}

export function redisHigressPick(redis: RedisClient, countKey: string, prefixKeys: string[], ttlSeconds: i64,
  defaultHost: string, seed: u32, healthy: string[], done: HigressDone): bool {
  const keys = new Array<string>();
  keys.push(countKey);
  for (let i = 0; i < prefixKeys.length; i++) keys.push(prefixKeys[i]);
  const args: string[] = [ttlSeconds.toString(), defaultHost, (seed & 0x7fffffff).toString()];
  for (let i = 0; i < healthy.length; i++) args.push(healthy[i]);
  return redis.evalScript(HIGRESS, keys, args, new HigressReply(done));
}

export function redisHigressRelease(redis: RedisClient, countKey: string, host: string): void {
  redis.call(["HINCRBY", countKey, host, "-1"], new Ignore());
}
