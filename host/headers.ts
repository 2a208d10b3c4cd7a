import type { Pairs } from "./abi.ts";

/**
 * An ordered multi-map of lower-cased header names, like Envoy's HeaderMapImpl as the wasm filter
 * sees it: `get` returns the first value (Envoy's getHeaderMapValue returns entry[0], not a joined
 * list), `replace` overwrites the first entry and drops the rest (setCopy), `add` appends.
 */
export class HeaderMap {
  private entries: Pairs = [];

  constructor(init?: Iterable<readonly [string, string]> | Record<string, string | string[]>) {
    if (!init) return;
    if (Symbol.iterator in (init as object)) {
      for (const [k, v] of init as Iterable<readonly [string, string]>) this.add(k, v);
    } else {
      for (const [k, v] of Object.entries(init as Record<string, string | string[]>)) {
        for (const one of Array.isArray(v) ? v : [v]) this.add(k, String(one));
      }
    }
  }

  get size(): number { return this.entries.length; }

  /** Sum of key and value lengths: what Envoy's proxy_get_header_map_size reports (byteSize). */
  byteSize(): number {
    let n = 0;
    for (const [k, v] of this.entries) n += Buffer.byteLength(k) + Buffer.byteLength(v);
    return n;
  }

  get(key: string): string | undefined {
    const k = key.toLowerCase();
    for (const [ek, ev] of this.entries) if (ek === k) return ev;
    return undefined;
  }

  getAll(key: string): string[] {
    const k = key.toLowerCase();
    return this.entries.filter(([ek]) => ek === k).map(([, v]) => v);
  }

  has(key: string): boolean { return this.get(key) !== undefined; }

  add(key: string, value: string): void { this.entries.push([key.toLowerCase(), value]); }

  replace(key: string, value: string): void {
    const k = key.toLowerCase();
    const i = this.entries.findIndex(([ek]) => ek === k);
    if (i < 0) { this.entries.push([k, value]); return; }
    this.entries[i] = [k, value];
    this.entries = this.entries.filter(([ek], j) => ek !== k || j === i);
  }

  remove(key: string): void {
    const k = key.toLowerCase();
    this.entries = this.entries.filter(([ek]) => ek !== k);
  }

  setPairs(pairs: Pairs): void {
    this.entries = [];
    for (const [k, v] of pairs) this.add(k, v);
  }

  pairs(): Pairs { return this.entries.map(([k, v]) => [k, v]); }

  clone(): HeaderMap { return new HeaderMap(this.entries); }

  /** Plain object view; repeated headers are joined with "," (how HTTP folds them). */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.entries) out[k] = k in out ? `${out[k]},${v}` : v;
    return out;
  }
}
