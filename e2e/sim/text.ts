// Deterministic text machinery: the simulated tokenizer, prefix-block hashes, a seeded PRNG,
// filler output and the chat template that turns messages into the text that gets tokenized.
import { createHash } from 'node:crypto';

/** One simulated token is 4 bytes of UTF-8 (≈4 English characters, ≈1.3 CJK characters). */
export const BYTES_PER_TOKEN = 4;

export function countTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / BYTES_PER_TOKEN);
}

/**
 * Chained hashes of the full KV blocks of `text` (a trailing partial block is not cacheable),
 * as vLLM's automatic prefix caching does: hash_i = H(hash_{i-1}, tokens of block i).
 */
export function blockHashes(text: string, blockSize: number, salt = ''): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const blockBytes = blockSize * BYTES_PER_TOKEN;
  const out: string[] = [];
  let parent = salt;
  for (let off = 0; off + blockBytes <= bytes.length; off += blockBytes) {
    parent = createHash('sha1').update(parent).update(bytes.subarray(off, off + blockBytes)).digest('base64');
    out.push(parent);
  }
  return out;
}

/** murmur3's 32-bit finalizer: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a, 32 bit, with murmur3's finalizer so nearby keys give unrelated values. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** mulberry32: small, fast, good enough for simulation draws. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A PRNG keyed by (seed, key), so a draw depends on the request, not on arrival order. */
export function keyedRng(seed: number, key: string): () => number {
  return rng(hash32(`${seed}\u0000${key}`));
}

export interface LengthRange { min: number; max: number }

export function drawLength(seed: number, key: string, range: LengthRange): number {
  const r = keyedRng(seed, `len:${key}`);
  return range.min + Math.floor(r() * (range.max - range.min + 1));
}

// Filler output is exactly one simulated token (4 bytes) per generated token: a capitalised 4-letter
// word first, then a space and a 3-letter word. So a reply's text re-tokenizes to as many tokens as were
// generated, and when the next turn's prompt carries the reply, its blocks line up with the KV blocks the
// server computed while generating it (vLLM v1 caches those too; see engine.ts).
const FIRST = (
  'Sure Okay Well Here Note Also Then Next Thus Plan Step Good Fine Mind Item Fact'
).split(' ');
const WORDS = (
  'ace bay cab dew elm fig gem hub ink jar key lid map net oak pan ray sun tan urn ' +
  'van wax yak zip arc bud cog den eel fog gum hay ivy jam kit log mud nut orb pod ' +
  'rib sap tip vat web yam axe bog cup dot ear fin gap hop'
).split(' ');

/** Mixes a 32-bit hash with a counter (a golden-ratio step, then murmur3's finalizer). */
const mix32 = (h: number, i: number): number => fmix32((h ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0);

/**
 * The reply tokens for (seed, key): token `i` is the same whatever the reply's length. The key (often
 * the whole prompt) is hashed once, so a reply costs O(prompt + output), not O(prompt × output).
 */
export function filler(seed: number, key: string): (i: number) => string {
  const h = hash32(`${seed}\u0000${key}`);
  return (i) => (i === 0 ? FIRST[mix32(h, 0) % FIRST.length] : ` ${WORDS[mix32(h, i) % WORDS.length]}`);
}

/** Unit-length vector derived from the text alone (same text → same vector). */
export function embedText(text: string, dims: number): number[] {
  const r = rng(hash32(`emb\u0000${text}`));
  const v = new Array<number>(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    // Sum of uniforms: roughly normal, so directions are spread evenly.
    const x = r() + r() + r() - 1.5;
    v[i] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dims; i++) v[i] = v[i] / norm;
  return v;
}

/** Relevance in (0, 1): share of query words found in the document, nudged by a stable hash so ties break. */
export function relevance(query: string, doc: string): number {
  const words = (s: string) => new Set(s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean));
  const q = words(query);
  const d = words(doc);
  let shared = 0;
  for (const w of q) if (d.has(w)) shared++;
  const overlap = q.size ? shared / q.size : 0;
  const jitter = (hash32(`${query}\u0000${doc}`) % 1000) / 1e5;
  return Math.min(0.999, 0.02 + 0.95 * overlap + jitter);
}

/** Message content as text: strings as is, content-part arrays flattened, anything else as JSON. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content.map((p) => {
      if (typeof p === 'string') return p;
      if (p && typeof p === 'object') {
        const part = p as Record<string, unknown>;
        if (typeof part.text === 'string') return part.text;
        if (part.type === 'image_url' || part.type === 'image' || 'image' in part) return '<|image|>';
        if (part.type === 'tool_result') return contentText(part.content);
      }
      return JSON.stringify(p);
    }).join('');
  }
  return JSON.stringify(content);
}

export interface ChatMessage { role: string; content?: unknown; tool_calls?: unknown; name?: string }

/**
 * Llama-3-style chat template. The rendered text is what gets tokenized and hashed, so two
 * conversations share cache blocks exactly as far as their rendered prefixes agree.
 */
export function renderChat(messages: ChatMessage[], tools?: unknown): string {
  let s = '<|begin_of_text|>';
  if (Array.isArray(tools) && tools.length > 0) {
    s += `<|start_header_id|>system<|end_header_id|>\n\nTools: ${JSON.stringify(tools)}<|eot_id|>`;
  }
  for (const m of messages) {
    let body = contentText(m.content);
    if (m.tool_calls) body += JSON.stringify(m.tool_calls);
    s += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${body}<|eot_id|>`;
  }
  return s + '<|start_header_id|>assistant<|end_header_id|>\n\n';
}

/** Arguments for a simulated tool call, filled from the JSON schema's (required) properties. */
export function toolArguments(schema: unknown): string {
  const s = (schema ?? {}) as { properties?: Record<string, { type?: string }>; required?: string[] };
  const props = s.properties ?? {};
  const names = s.required?.length ? s.required : Object.keys(props);
  const args: Record<string, unknown> = {};
  for (const n of names) {
    const t = props[n]?.type;
    args[n] = t === 'number' || t === 'integer' ? 1 : t === 'boolean' ? true : t === 'array' ? [] : t === 'object' ? {} : 'sim-value';
  }
  return JSON.stringify(args);
}

/** Split a string into pieces of at most `n` characters (for streaming tool arguments). */
export function pieces(s: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out.length ? out : [''];
}

/** Short deterministic id: `${prefix}${hex}` from a per-server counter. */
export function makeIds(seed: number): (prefix: string) => string {
  let n = 0;
  return (prefix) => `${prefix}${hash32(`${seed}:${n++}`).toString(16).padStart(8, '0')}${(n).toString(16).padStart(4, '0')}`;
}
