// shared/kv.ts: CAS loops over shared data, checked against an in-memory store with Envoy's semantics
// (a set with a stale cas fails; a set on a missing key always succeeds) in which "another VM" can act
// between our get and our set.
import {
  KvStatus, KvUpdate, KV_FAILED, setKvBackend, kvAddI64, kvGetI64, kvUpdate, kvInsertIfAbsent, kvInit,
  encodeI64, decodeI64, encodeI64s, decodeI64s,
} from "../../shared/kv";
import { MemKv } from "./support/mem-kv";

/** Envoy-like store; `interfere` lets a test play another VM right before each of our writes. */
class MemBackend extends MemKv {
  interfere: Interferer | null = null;
  beforeSet(key: string): void {
    const i = this.interfere;
    if (i != null) { this.interfere = null; i.act(this, key); this.interfere = i.again ? i : null; }
  }
}

/** Another VM adding `delta` to key `target` right before our next write (of any key), or every write. */
class Interferer {
  fired: bool = false;
  constructor(public target: string, public delta: i64, public again: bool) {}
  act(b: MemBackend, key: string): void {
    this.fired = true;
    const cur = b.get(this.target);
    b.rawSet(this.target, encodeI64((cur == null ? 0 : decodeI64(cur.data)) + this.delta), cur == null ? 0 : cur.cas);
  }
}

function fresh(): MemBackend {
  const b = new MemBackend();
  setKvBackend(b);
  kvInit();
  return b;
}

describe("kv: counters", () => {
  it("adds to an absent key and accumulates", () => {
    fresh();
    expect(kvAddI64("c", 5)).toBe(5);
    expect(kvAddI64("c", -2)).toBe(3);
    expect(kvGetI64("c")).toBe(3);
    expect(kvGetI64("missing")).toBe(0);
  });

  it("loses no update when another VM writes between our get and set", () => {
    const b = fresh();
    kvAddI64("c", 1);
    b.interfere = new Interferer("c", 10, false);
    expect(kvAddI64("c", 100)).toBe(111);
    expect(kvGetI64("c")).toBe(111);
  });

  it("loses no update when another VM creates the key while we create it", () => {
    const b = fresh();
    // Our get finds no key; before our first write the other VM creates it with 7. A blind create
    // (set with cas 0) would overwrite that 7; the locked create re-reads and adds to it.
    const other = new Interferer("k", 7, false);
    b.interfere = other;
    expect(kvAddI64("k", 3)).toBe(10);
    expect(other.fired).toBe(true);
  });

  it("gives up after bounded retries under constant contention", () => {
    const b = fresh();
    kvAddI64("hot", 1);
    b.interfere = new Interferer("hot", 1, true);
    const before = b.sets;
    expect(kvAddI64("hot", 1, 8)).toBe(KV_FAILED);
    expect(b.sets - before).toBe(8);
    b.interfere = null;
    expect(kvGetI64("hot")).toBe(9);  // 1 + eight writes of the other VM, none of ours
  });
});

describe("kv: creation lock", () => {
  it("waits for a held lock and fails safe when it is never released", () => {
    const b = fresh();
    b.rawSet("__kv:create-lock", encodeI64(b.now + 150), 0);   // another VM holds it
    expect(kvUpdate("new", new SetTo(4), 2)).toBe(KvStatus.Contended);
    expect(b.get("new")).toBeNull();
  });
  it("takes over a lock whose holder vanished", () => {
    const b = fresh();
    b.rawSet("__kv:create-lock", encodeI64(b.now - 1), 0);     // expired
    expect(kvUpdate("new", new SetTo(4))).toBe(KvStatus.Ok);
    expect(kvGetI64("new")).toBe(4);
    expect(kvGetI64("__kv:create-lock")).toBe(0); // released
  });
  it("inserts only once", () => {
    fresh();
    expect(kvInsertIfAbsent("nonce", encodeI64(1))).toBe(true);
    expect(kvInsertIfAbsent("nonce", encodeI64(2))).toBe(false);
    expect(kvGetI64("nonce")).toBe(1);
  });
  it("an update may decline to write", () => {
    fresh();
    kvAddI64("x", 1);
    expect(kvUpdate("x", new Decline())).toBe(KvStatus.Unchanged);
    expect(kvGetI64("x")).toBe(1);
  });
});

describe("kv: records", () => {
  it("round-trips i64 fields and zero-fills short values", () => {
    const f = new StaticArray<i64>(3);
    f[0] = -1; f[1] = 1 << 40; f[2] = 7;
    const b = encodeI64s(f);
    expect(b.byteLength).toBe(24);
    const back = decodeI64s(b, 4);
    expect(back[0]).toBe(-1);
    expect(back[1]).toBe(1 << 40);
    expect(back[2]).toBe(7);
    expect(back[3]).toBe(0);
    expect(decodeI64s(null, 2)[1]).toBe(0);
    expect(decodeI64(new ArrayBuffer(3))).toBe(0);
  });
});

class SetTo extends KvUpdate {
  constructor(public v: i64) { super(); }
  apply(current: ArrayBuffer | null): ArrayBuffer | null { return encodeI64(this.v); }
}
class Decline extends KvUpdate {
  apply(current: ArrayBuffer | null): ArrayBuffer | null { return null; }
}
