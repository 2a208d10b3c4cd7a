// Paged KV cache with automatic prefix caching, after vLLM v1's BlockPool:
// fixed-size blocks, a free queue in LRU order (evict from the head), full blocks registered
// under their chained hash so later requests can reuse them while they still hold that hash.

export interface Block {
  id: number;
  refs: number;
  hash: string | null;
}

export class KvCache {
  private readonly blocks: Block[];
  /** Unreferenced blocks, oldest first. Map keeps insertion order, so delete+set moves a block to the tail. */
  private readonly freeQueue = new Map<number, Block>();
  private readonly byHash = new Map<string, Block>();
  evictions = 0;

  constructor(readonly numBlocks: number, readonly blockSize: number) {
    this.blocks = Array.from({ length: numBlocks }, (_, id) => ({ id, refs: 0, hash: null }));
    for (const b of this.blocks) this.freeQueue.set(b.id, b);
  }

  get freeCount(): number { return this.freeQueue.size; }
  get cachedCount(): number { return this.byHash.size; }
  /** Fraction of blocks held by live requests (vLLM's kv_cache_usage_perc). */
  get usage(): number { return 1 - this.freeQueue.size / this.numBlocks; }

  /** Longest run of leading hashes that are cached, up to `maxBlocks`. */
  lookup(hashes: string[], maxBlocks: number): Block[] {
    const hit: Block[] = [];
    const n = Math.min(hashes.length, maxBlocks);
    for (let i = 0; i < n; i++) {
      const b = this.byHash.get(hashes[i]);
      if (!b) break;
      hit.push(b);
    }
    return hit;
  }

  /** Take a reference on cached blocks (they leave the free queue while referenced). */
  touch(blocks: Block[]): void {
    for (const b of blocks) {
      if (b.refs === 0) this.freeQueue.delete(b.id);
      b.refs++;
    }
  }

  /** `n` fresh blocks from the head of the free queue, evicting their cached contents; null if too few. */
  allocate(n: number): Block[] | null {
    if (n > this.freeQueue.size) return null;
    const out: Block[] = [];
    for (const b of this.freeQueue.values()) {
      if (out.length === n) break;
      out.push(b);
    }
    for (const b of out) {
      this.freeQueue.delete(b.id);
      if (b.hash !== null) {
        if (this.byHash.get(b.hash) === b) this.byHash.delete(b.hash);
        b.hash = null;
        this.evictions++;
      }
      b.refs = 1;
    }
    return out;
  }

  /** Register a full block under its hash; a hash already cached keeps its first block, as in vLLM. */
  register(block: Block, hash: string): void {
    if (block.hash !== null || this.byHash.has(hash)) return;
    block.hash = hash;
    this.byHash.set(hash, block);
  }

  /**
   * Drop a request's references. Blocks go to the tail in reverse order, so a request's last
   * blocks (least likely shared) are evicted before its prefix.
   */
  release(blocks: Block[]): void {
    for (let i = blocks.length - 1; i >= 0; i--) {
      const b = blocks[i];
      b.refs--;
      if (b.refs === 0) this.freeQueue.set(b.id, b);
    }
  }
}
