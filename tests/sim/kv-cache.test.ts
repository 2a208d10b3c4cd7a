import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KvCache } from '../../e2e/sim/kv-cache.ts';
import { blockHashes } from '../../e2e/sim/text.ts';

/** Allocate and register one request's blocks under `hashes`. */
function fill(kv: KvCache, hashes: string[]) {
  const blocks = kv.allocate(hashes.length);
  assert.ok(blocks);
  blocks.forEach((b, i) => kv.register(b, hashes[i]));
  return blocks;
}

test('block hashes chain: equal prefixes share leading hashes, a partial block has none', () => {
  const a = blockHashes('x'.repeat(64 * 3) + 'tail', 16);
  const b = blockHashes('x'.repeat(64 * 2) + 'y'.repeat(64) + 'tail', 16);
  assert.equal(a.length, 3);
  assert.deepEqual(a.slice(0, 2), b.slice(0, 2));
  assert.notEqual(a[2], b[2]);
  // Same block content at a different position hashes differently (the chain carries the prefix).
  assert.notEqual(blockHashes('x'.repeat(64), 16)[0], a[1]);
});

test('lookup returns the leading run of cached blocks, capped', () => {
  const kv = new KvCache(8, 16);
  fill(kv, ['h0', 'h1', 'h2']);
  assert.equal(kv.lookup(['h0', 'h1', 'h2', 'h3'], 10).length, 3);
  assert.equal(kv.lookup(['h0', 'hX', 'h2'], 10).length, 1);
  assert.equal(kv.lookup(['h0', 'h1', 'h2'], 2).length, 2);
});

test('referenced blocks are never evicted; freed blocks are evicted oldest first, a request\'s tail before its head', () => {
  const kv = new KvCache(6, 16);
  const a = fill(kv, ['a0', 'a1', 'a2']);
  const b = fill(kv, ['b0', 'b1', 'b2']);
  assert.equal(kv.freeCount, 0);
  assert.equal(kv.allocate(1), null, 'all blocks referenced');
  kv.release(a);
  kv.release(b);
  assert.equal(kv.usage, 0);
  assert.equal(kv.cachedCount, 6, 'freed blocks keep their contents until reused');
  kv.allocate(2);
  assert.equal(kv.evictions, 2);
  assert.deepEqual(kv.lookup(['a0', 'a1', 'a2'], 3).map((x) => x.hash), ['a0'], 'a2 then a1 went first');
  assert.equal(kv.lookup(['b0', 'b1', 'b2'], 3).length, 3);
});

test('touching a cached block protects it; a duplicate hash keeps the first block', () => {
  const kv = new KvCache(4, 16);
  const a = fill(kv, ['p0', 'p1']);
  kv.release(a);
  const hit = kv.lookup(['p0', 'p1'], 2);
  kv.touch(hit);
  assert.equal(kv.freeCount, 2);
  const fresh = kv.allocate(2);
  assert.ok(fresh);
  assert.equal(kv.evictions, 0, 'only never-used blocks were free');
  kv.register(fresh[0], 'p0');
  assert.equal(kv.lookup(['p0'], 1)[0], hit[0]);
  assert.equal(kv.allocate(1), null);
});
