// Atomic read-modify-write on proxy-wasm shared data, correct across the VMs (worker threads) of one
// gateway process.
//
// Envoy's shared data offers get → (value, cas) and set(value, cas): a set fails with CasMismatch when
// another VM wrote the key since our get. Updates therefore run as bounded CAS retry loops that report
// failure instead of spinning forever (the caller applies its failure policy).
//
// One gap needs care: a set on a key that does not exist yet always succeeds, whatever cas it carries,
// so two VMs creating the same key at once would overwrite each other's first update. Creation is
// therefore serialized by a lock key (`kvInit()` creates it at configure time, before traffic); the lock
// holds an expiry time so a VM that vanished while holding it cannot block creation for long.
// Existing keys never take the lock. Shared data has no delete in ABI 0.2.1: keys live as long as the process.
//
//   kvInit();                                  // in onConfigure
//   const n = kvAddI64("hits", 1);             // new value, or KV_FAILED
//   kvUpdate("k", myUpdate);                   // any value: myUpdate.apply(current) → new bytes
//   kvInsertIfAbsent("nonce:abc", bytes);      // true once per key (e.g. replay protection)
import { WasmResult } from "./proxy/abi";
import { getSharedData as hostGet, setSharedData as hostSet, nowMillis, SharedValue } from "./proxy/hostcalls";

/** Attempts before an update gives up (each attempt is one get and one set). */
export const KV_RETRIES: i32 = 32;
/** Returned by the i64 helpers when the update could not be applied. */
export const KV_FAILED: i64 = i64.MIN_VALUE;

const LOCK_KEY = "__kv:create-lock";
/** How long a creation lock is honoured if its holder never releases it. */
const LOCK_TTL_MS: i64 = 200;

export const enum KvStatus {
  /** The new value was stored. */
  Ok = 0,
  /** The update chose not to write (apply returned null). */
  Unchanged = 1,
  /** Other VMs kept winning the race; nothing was written. */
  Contended = 2,
  /** The host refused the operation. */
  Failed = 3,
}

/** Computes the next value of a key from its current bytes (null: absent). Return null to write nothing. */
export abstract class KvUpdate {
  abstract apply(current: ArrayBuffer | null): ArrayBuffer | null;
}

/** Where the data lives: the host's shared data, or a stand-in in unit tests (to interleave "other VMs"). */
export abstract class KvBackend {
  abstract get(key: string): SharedValue | null;
  abstract set(key: string, data: ArrayBuffer, cas: u32): WasmResult;
  abstract nowMillis(): i64;
}
class HostBackend extends KvBackend {
  get(key: string): SharedValue | null { return hostGet(key); }
  set(key: string, data: ArrayBuffer, cas: u32): WasmResult { return hostSet(key, data, cas); }
  nowMillis(): i64 { return nowMillis(); }
}
let backend: KvBackend = new HostBackend();
export function setKvBackend(b: KvBackend): void { backend = b; }
function getSharedData(key: string): SharedValue | null { return backend.get(key); }
function setSharedData(key: string, data: ArrayBuffer, cas: u32): WasmResult { return backend.set(key, data, cas); }

/** Lock attempts while another VM holds the creation lock (it holds it for a get and a set). */
const LOCK_SPINS: i32 = 4096;

/** Creates the creation-lock key if missing. Call from onConfigure, before any traffic. */
export function kvInit(): void {
  if (getSharedData(LOCK_KEY) == null) setSharedData(LOCK_KEY, encodeI64(0), 0);
}

/** The current bytes of a key, or null when it is absent. */
export function kvGet(key: string): ArrayBuffer | null {
  const v = getSharedData(key);
  return v == null ? null : v.data;
}

/** Applies `update` atomically: re-reads and retries when another VM wrote the key in between. */
export function kvUpdate(key: string, update: KvUpdate, retries: i32 = KV_RETRIES): KvStatus {
  for (let attempt = 0; attempt < retries; attempt++) {
    const cur = getSharedData(key);
    if (cur == null) {
      const s = createLocked(key, update);
      if (s != KvStatus.Contended || attempt + 1 >= retries) return s;
      continue;
    }
    const next = update.apply(cur.data);
    if (next == null) return KvStatus.Unchanged;
    const r = setSharedData(key, next, cur.cas);
    if (r == WasmResult.Ok) return KvStatus.Ok;
    if (r != WasmResult.CasMismatch) return KvStatus.Failed;
  }
  return KvStatus.Contended;
}

/** Creates `key` under the creation lock (or updates it, if another VM created it meanwhile). */
function createLocked(key: string, update: KvUpdate): KvStatus {
  if (!acquireLock()) return KvStatus.Contended;
  let status = KvStatus.Contended;
  const cur = getSharedData(key);
  if (cur == null) {
    const next = update.apply(null);
    if (next == null) status = KvStatus.Unchanged;
    else status = setSharedData(key, next, 0) == WasmResult.Ok ? KvStatus.Ok : KvStatus.Failed;
  }
  // If it exists now, the caller's loop retries on the normal CAS path (status Contended).
  releaseLock();
  return status;
}

function acquireLock(): bool {
  for (let i = 0; i < LOCK_SPINS; i++) {
    const now = backend.nowMillis();
    const cur = getSharedData(LOCK_KEY);
    if (cur == null) {
      // kvInit was not called: create the lock key unlocked, then compete for it.
      setSharedData(LOCK_KEY, encodeI64(0), 0);
      continue;
    }
    const until = decodeI64(cur.data);
    if (until > now) continue;                  // held by another VM (released within microseconds)
    if (setSharedData(LOCK_KEY, encodeI64(now + LOCK_TTL_MS), cur.cas) == WasmResult.Ok) return true;
  }
  return false;
}

function releaseLock(): void {
  for (let i = 0; i < 4; i++) {
    const cur = getSharedData(LOCK_KEY);
    if (cur == null) return;
    if (setSharedData(LOCK_KEY, encodeI64(0), cur.cas) == WasmResult.Ok) return;
  }
}

// ---------------------------------------------------------------- i64 counters

class AddI64 extends KvUpdate {
  result: i64 = 0;
  constructor(public delta: i64) { super(); }
  apply(current: ArrayBuffer | null): ArrayBuffer | null {
    this.result = (current == null ? 0 : decodeI64(current)) + this.delta;
    return encodeI64(this.result);
  }
}

/** Adds `delta` to the counter at `key` (absent = 0) and returns the new value, or KV_FAILED. */
export function kvAddI64(key: string, delta: i64, retries: i32 = KV_RETRIES): i64 {
  const u = new AddI64(delta);
  return kvUpdate(key, u, retries) == KvStatus.Ok ? u.result : KV_FAILED;
}

/** The counter at `key`; 0 when absent or not an 8-byte value. */
export function kvGetI64(key: string): i64 {
  const v = getSharedData(key);
  return v == null ? 0 : decodeI64(v.data);
}

class InsertIfAbsent extends KvUpdate {
  constructor(public value: ArrayBuffer) { super(); }
  apply(current: ArrayBuffer | null): ArrayBuffer | null { return current == null ? this.value : null; }
}

/** Stores `value` only if `key` does not exist; true when this call created it. */
export function kvInsertIfAbsent(key: string, value: ArrayBuffer, retries: i32 = KV_RETRIES): bool {
  return kvUpdate(key, new InsertIfAbsent(value), retries) == KvStatus.Ok;
}

// ---------------------------------------------------------------- compact records
// A small struct (e.g. a window's counters) is stored as consecutive little-endian i64 fields.

export function encodeI64(v: i64): ArrayBuffer {
  const b = new ArrayBuffer(8);
  store<i64>(changetype<usize>(b), v);
  return b;
}
/** The first i64 of `b`; 0 when it is shorter than 8 bytes. */
export function decodeI64(b: ArrayBuffer): i64 {
  return b.byteLength >= 8 ? load<i64>(changetype<usize>(b)) : 0;
}

/** Fields as bytes: 8 per field, little-endian. */
export function encodeI64s(fields: StaticArray<i64>): ArrayBuffer {
  const n = fields.length;
  const b = new ArrayBuffer(n * 8);
  memory.copy(changetype<usize>(b), changetype<usize>(fields), <usize>n * 8);
  return b;
}

/** `count` fields from bytes; fields missing from a short (or absent) value read as 0. */
export function decodeI64s(b: ArrayBuffer | null, count: i32): StaticArray<i64> {
  const out = new StaticArray<i64>(count);
  if (b == null) return out;
  const have = min(b.byteLength >> 3, count);
  if (have > 0) memory.copy(changetype<usize>(out), changetype<usize>(b), <usize>have * 8);
  return out;
}

