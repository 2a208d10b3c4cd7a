// An in-memory stand-in for Envoy's shared data, for the unit tests of what sits on shared/kv.ts:
// CAS versions as Envoy keeps them (a write with a stale non-zero cas fails), a settable clock,
// and a write count. A test plays another VM's write by overriding beforeSet.
import { WasmResult } from "../../../shared/proxy/abi";
import { SharedValue } from "../../../shared/proxy/hostcalls";
import { KvBackend } from "../../../shared/kv";

class Entry { constructor(public data: ArrayBuffer, public cas: u32) {} }

export class MemKv extends KvBackend {
  map: Map<string, Entry> = new Map();
  nextCas: u32 = 1;
  sets: i32 = 0;
  /** What nowMillis() answers. */
  constructor(public now: i64 = 1000) { super(); }

  get(key: string): SharedValue | null {
    if (!this.map.has(key)) return null;
    const e = this.map.get(key);
    return new SharedValue(e.data, e.cas);
  }
  set(key: string, data: ArrayBuffer, cas: u32): WasmResult {
    this.beforeSet(key);
    this.sets++;
    return this.rawSet(key, data, cas);
  }
  /** Runs before each of our writes (of `key`); nothing by default. */
  beforeSet(key: string): void {}
  /** A write that is not ours (no beforeSet, not counted). */
  rawSet(key: string, data: ArrayBuffer, cas: u32): WasmResult {
    if (this.map.has(key) && cas != 0 && this.map.get(key).cas != cas) return WasmResult.CasMismatch;
    this.map.set(key, new Entry(data, this.nextCas++));
    return WasmResult.Ok;
  }
  nowMillis(): i64 { return this.now; }
}
