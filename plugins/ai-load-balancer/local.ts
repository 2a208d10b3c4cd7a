// Local mode: the balancer's state in proxy-wasm shared data, so every VM (worker) of one gateway
// agrees. Updates are CAS loops (shared/kv.ts). Shared data cannot delete keys, so everything lives
// in a bounded set of keys: one counter per host, one round-robin record per route, and the prefix
// index as `maxEntries` fixed slots (a block's slot is its hash modulo the slot count; a newer block
// takes over a slot from an older one).
import { KvUpdate, KvStatus, kvAddI64, kvGet, kvGetI64, kvUpdate, KV_FAILED, decodeI64s, encodeI64s } from "../../shared/kv";
import { smoothWrr } from "./choose";

// ---------------------------------------------------------------- in-flight counters

function inflightKey(tag: string, host: string): string { return "ai-lb:inflight:" + tag + ":" + host; }

export function localLoads(tag: string, hosts: string[]): i64[] {
  const out = new Array<i64>(hosts.length);
  for (let i = 0; i < hosts.length; i++) {
    const v = kvGetI64(inflightKey(tag, hosts[i]));
    out[i] = v > 0 ? v : 0;
  }
  return out;
}

/** +1 (or -1) on the host's in-flight count; false when shared data refused. */
export function localAdjust(tag: string, host: string, delta: i64): bool {
  return kvAddI64(inflightKey(tag, host), delta) != KV_FAILED;
}

// ---------------------------------------------------------------- prefix index

/** Hosts remembered per block (a hot prefix may live on several). */
const ENTRY_HOSTS = 8;

// A slot record, as i64 fields: [block hash, count, (host hash, last use ms) * count].
function slotKey(block: u64, slots: i32): string {
  return "ai-lb:prefix:" + (block % <u64>max(slots, 1)).toString();
}

/** Whether `rec` (of `block`) lists `host` used since `since`. */
function usedSince(rec: StaticArray<i64>, host: u64, since: i64): bool {
  const n = <i32>min(rec[1], <i64>ENTRY_HOSTS);
  for (let k = 0; k < n; k++) {
    if (<u64>rec[2 + 2 * k] == host) return rec[3 + 2 * k] >= since;
  }
  return false;
}

/** Per candidate host, how many leading blocks of the prompt it holds (used within `ttlMs`). */
export function localMatch(blocks: u64[], hosts: u64[], nowMs: i64, ttlMs: i64, slots: i32): i32[] {
  const matched = new Array<i32>(hosts.length);
  const alive = new Array<bool>(hosts.length);
  for (let i = 0; i < hosts.length; i++) alive[i] = true;
  const since = nowMs - ttlMs;
  for (let b = 0; b < blocks.length; b++) {
    const raw = kvGet(slotKey(blocks[b], slots));
    if (raw == null) break;
    const rec = decodeI64s(raw, 2 + 2 * ENTRY_HOSTS);
    if (<u64>rec[0] != blocks[b]) break;
    let any = false;
    for (let i = 0; i < hosts.length; i++) {
      if (!alive[i]) continue;
      if (usedSince(rec, hosts[i], since)) { matched[i] = b + 1; any = true; } else alive[i] = false;
    }
    if (!any) break;
  }
  return matched;
}

class RecordUse extends KvUpdate {
  constructor(public block: u64, public host: u64, public nowMs: i64, public freshMs: i64) { super(); }
  apply(current: ArrayBuffer | null): ArrayBuffer | null {
    const rec = decodeI64s(current, 2 + 2 * ENTRY_HOSTS);
    if (current != null && <u64>rec[0] == this.block && usedSince(rec, this.host, this.nowMs - this.freshMs)) return null;
    if (current == null || <u64>rec[0] != this.block) {
      // Empty slot, or another block's: this (most recent) block takes it over.
      const fresh = new StaticArray<i64>(4);
      fresh[0] = <i64>this.block; fresh[1] = 1; fresh[2] = <i64>this.host; fresh[3] = this.nowMs;
      return encodeI64s(fresh);
    }
    let n = <i32>min(max(rec[1], 0), <i64>ENTRY_HOSTS);
    let at = -1;
    for (let k = 0; k < n; k++) if (<u64>rec[2 + 2 * k] == this.host) { at = k; break; }
    if (at < 0 && n < ENTRY_HOSTS) { at = n; n++; }
    if (at < 0) {             // full: the least recently used host makes room
      at = 0;
      for (let k = 1; k < n; k++) if (rec[3 + 2 * k] < rec[3 + 2 * at]) at = k;
    }
    rec[1] = n;
    rec[2 + 2 * at] = <i64>this.host;
    rec[3 + 2 * at] = this.nowMs;
    const out = new StaticArray<i64>(2 + 2 * n);
    for (let k = 0; k < out.length; k++) out[k] = rec[k];
    return encodeI64s(out);
  }
}

/**
 * Records that `host` now holds every block of the prompt; a block it used within `freshMs` is left as
 * it is (fewer writes for sticky sessions). False if some slot stayed contended.
 */
export function localRecord(blocks: u64[], host: u64, nowMs: i64, slots: i32, freshMs: i64 = 0): bool {
  let ok = true;
  for (let b = 0; b < blocks.length; b++) {
    const s = kvUpdate(slotKey(blocks[b], slots), new RecordUse(blocks[b], host, nowMs, freshMs));
    if (s == KvStatus.Contended || s == KvStatus.Failed) ok = false;
  }
  return ok;
}

// ---------------------------------------------------------------- smooth weighted round robin

// Record: [count, (host hash, current weight) * count], for the hosts of the last pick.
class WrrStep extends KvUpdate {
  picked: i32 = -1;
  constructor(public hosts: u64[], public weights: i64[]) { super(); }
  apply(current: ArrayBuffer | null): ArrayBuffer | null {
    const n = this.hosts.length;
    const had = current == null ? 0 : <i32>min(max(decodeI64s(current, 1)[0], 0), 4096);
    const old = decodeI64s(current, 1 + 2 * had);
    const cur = new Array<i64>(n);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < had; k++) if (<u64>old[1 + 2 * k] == this.hosts[i]) { cur[i] = old[2 + 2 * k]; break; }
    }
    this.picked = smoothWrr(cur, this.weights);
    const out = new StaticArray<i64>(1 + 2 * n);
    out[0] = n;
    for (let i = 0; i < n; i++) { out[1 + 2 * i] = <i64>this.hosts[i]; out[2 + 2 * i] = cur[i]; }
    return encodeI64s(out);
  }
}

/** The next host in weighted round-robin order across all VMs; -1 when no host has a weight. */
export function localRoundRobin(tag: string, hosts: u64[], weights: i64[]): i32 {
  const step = new WrrStep(hosts, weights);
  if (kvUpdate("ai-lb:rr:" + tag, step) != KvStatus.Ok) {
    // Contended or refused: still answer, from a fresh state (keeps the request moving).
    const cur = new Array<i64>(hosts.length);
    return smoothWrr(cur, weights);
  }
  return step.picked;
}
