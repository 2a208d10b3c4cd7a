// What the provider simulators have in common: options, reply length and pacing.
// Providers are not scheduled like the vLLM sim: a reply takes `ttftMs` to its first token and
// `tokenMs` per further token, independent of load (a hosted API looks like that from outside).
import { type Ctx, type ServerOptions, paced, sleep } from './common.ts';
import { type LengthRange, drawLength, filler, makeIds } from './text.ts';

export interface ProviderOptions extends ServerOptions {
  seed?: number;
  /** Multiplies every simulated duration (0.01 = 100× faster). */
  timeScale?: number;
  /** Simulated ms to the first token. */
  ttftMs?: number;
  /** Simulated ms between tokens. */
  tokenMs?: number;
  /** Simulated ms for one image generation. */
  imageMs?: number;
  /** Reply length drawn (per prompt, seeded) when the request does not fix it. */
  outputTokens?: LengthRange;
  /** Vector size for embeddings when the request does not ask for one. */
  embeddingDims?: number;
}

export type Finish = 'stop' | 'length';

export class Replies {
  readonly seed: number;
  readonly newId: (prefix: string) => string;
  private readonly scale: number;
  private readonly ttft: number;
  private readonly gap: number;
  private readonly image: number;
  private readonly range: LengthRange;

  constructor(opts: ProviderOptions) {
    this.seed = opts.seed ?? 0;
    this.newId = makeIds(this.seed);
    this.scale = opts.timeScale ?? 1;
    this.ttft = opts.ttftMs ?? 300;
    this.gap = opts.tokenMs ?? 20;
    this.image = opts.imageMs ?? 4000;
    this.range = opts.outputTokens ?? { min: 16, max: 64 };
  }

  /** Exactly `maxTokens` when given (finish "length"), else a seeded draw (finish "stop"). */
  length(key: string, maxTokens?: unknown): { n: number; finish: Finish } {
    if (typeof maxTokens === 'number' && Number.isInteger(maxTokens) && maxTokens > 0) return { n: maxTokens, finish: 'length' };
    return { n: drawLength(this.seed, key, this.range), finish: 'stop' };
  }

  /** A natural length cut at `cap` (for APIs where the cap is mandatory, like Anthropic's max_tokens). */
  capped(key: string, cap: number): { n: number; finish: Finish } {
    const n = drawLength(this.seed, key, this.range);
    return n >= cap ? { n: cap, finish: 'length' } : { n, finish: 'stop' };
  }

  tokens(key: string, n: number): string[] {
    const token = filler(this.seed, key);
    return Array.from({ length: n }, (_, i) => token(i));
  }

  /** Emit `count` items paced like generated tokens; false if the client went away. */
  stream(ctx: Ctx, count: number, emit: (i: number) => void): Promise<boolean> {
    return paced(ctx, count, this.ttft * this.scale, this.gap * this.scale, emit);
  }

  /** Wait as long as generating `count` tokens takes (non-streaming replies). */
  generate(count: number): Promise<void> {
    return sleep((this.ttft + Math.max(0, count - 1) * this.gap) * this.scale);
  }

  /** Wait for a single fast operation (embeddings, rerank). */
  quick(): Promise<void> {
    return sleep(this.ttft * this.scale);
  }

  imageDelay(): Promise<void> {
    return sleep(this.image * this.scale);
  }
}

/** Little-endian float32 vector as base64 (OpenAI's `encoding_format: "base64"`). */
export function float32Base64(v: number[]): string {
  return Buffer.from(new Float32Array(v).buffer).toString('base64');
}

/** Texts to embed from an OpenAI-style `input`: a string, strings, or token arrays. */
export function embeddingInputs(input: unknown): string[] | null {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((x) => typeof x === 'number')) return [input.join(' ')];
  if (input.every((x) => typeof x === 'string')) return input as string[];
  if (input.every((x) => Array.isArray(x))) return (input as unknown[][]).map((t) => t.join(' '));
  return null;
}

/** Documents as text: plain strings or `{text}` objects. */
export function documentTexts(docs: unknown): string[] | null {
  if (!Array.isArray(docs)) return null;
  const out: string[] = [];
  for (const d of docs) {
    if (typeof d === 'string') out.push(d);
    else if (d && typeof d === 'object' && typeof (d as { text?: unknown }).text === 'string') out.push((d as { text: string }).text);
    else return null;
  }
  return out;
}

/** Indices of `docs` ordered by relevance to `query`, best first, cut to `topN` when positive. */
export function rank(query: string, docs: string[], topN: unknown, score: (q: string, d: string) => number): Array<{ index: number; score: number }> {
  const ranked = docs.map((d, index) => ({ index, score: score(query, d) })).sort((a, b) => b.score - a.score || a.index - b.index);
  return typeof topN === 'number' && topN > 0 ? ranked.slice(0, topN) : ranked;
}

/** Which tool (if any) a reply should call: the forced one, else the first, unless the turn already has a tool result. */
export function pickTool<T extends { name: string }>(tools: T[], forcedName: string | undefined, none: boolean, hasToolResult: boolean): T | null {
  if (tools.length === 0 || none || hasToolResult) return null;
  return tools.find((t) => t.name === forcedName) ?? tools[0];
}
