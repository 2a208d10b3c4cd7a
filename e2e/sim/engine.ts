// Continuous-batching scheduler of the simulated vLLM server (after vLLM v1's Scheduler).
// Time is simulated: each step's duration comes from the cost model, and the step's effects
// (tokens) are released when real time reaches `t0 + simTime * timeScale`. When the event loop
// runs late, steps run back to back until they catch up, so simulated GPU time is never lost.
import { KvCache, type Block } from './kv-cache.ts';
import { Histogram } from './metrics.ts';

export interface CostModel {
  /** Prompt tokens computed per second during prefill. */
  prefillTokensPerSec: number;
  /** Fixed cost of one engine step (weights read once per forward pass). */
  stepBaseMs: number;
  /** Extra step cost per sequence decoding in the batch. */
  decodePerSeqMs: number;
}

/** Llama-3.1-8B (BF16) on one A100-80GB; sources in e2e/sim/README.md. */
export const LLAMA31_8B_A100: CostModel = { prefillTokensPerSec: 10_000, stepBaseMs: 12, decodePerSeqMs: 0.5 };
/** Llama-3.1-8B (BF16) on one L20-48GB (derived from its datasheet; e2e/sim/README.md). */
export const LLAMA31_8B_L20: CostModel = { prefillTokensPerSec: 3_700, stepBaseMs: 18.5, decodePerSeqMs: 0.7 };

/** A GPU the simulator can stand for: its cost model and KV-cache capacity (16-token blocks). */
export interface GpuProfile { cost: CostModel; numGpuBlocks: number }
export const GPUS = {
  a100: { cost: LLAMA31_8B_A100, numGpuBlocks: 25_000 },
  l20: { cost: LLAMA31_8B_L20, numGpuBlocks: 12_900 },
} satisfies Record<string, GpuProfile>;
export type GpuName = keyof typeof GPUS;

export interface EngineConfig {
  blockSize: number;
  numGpuBlocks: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  enablePrefixCaching: boolean;
  timeScale: number;
  cost: CostModel;
}

export type FinishReason = 'stop' | 'length';

export interface SeqInput {
  promptTokens: number;
  /**
   * Chained hashes of the request's full blocks: the prompt's, then (when generated blocks are cached)
   * those of prompt + reply. A block is registered once its tokens are computed; lookups use prompt blocks only.
   */
  hashes: string[];
  maxOutput: number;
  /** Reported when `maxOutput` tokens have been generated. */
  finishReason: FinishReason;
}

export interface SeqSink {
  /** Output token `index` was sampled at simulated time `atMs`. */
  token(index: number, atMs: number): void;
  finish(reason: FinishReason): void;
}

/** Per-request timings in simulated milliseconds (what a real GPU would show). */
export interface RequestRecord {
  id: number;
  /** Simulated time of arrival, ms since the engine started. */
  arrivalMs: number;
  promptTokens: number;
  cachedTokens: number;
  outputTokens: number;
  queueMs: number;
  ttftMs: number;
  e2eMs: number;
  finishReason: FinishReason;
  preemptions: number;
}

export const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];

type State = 'waiting' | 'running' | 'done' | 'aborted';

class Seq {
  state: State = 'waiting';
  output = 0;
  /** Tokens whose KV is (or is being) computed. */
  computed = 0;
  blocks: Block[] = [];
  /** How many leading prompt blocks are registered in the prefix cache. */
  registered = 0;
  cachedTokens = 0;
  scheduledAt = -1;
  firstTokenAt = -1;
  preemptions = 0;
  constructor(readonly id: number, readonly input: SeqInput, readonly sink: SeqSink, readonly arrival: number) {}
  get numTokens(): number { return this.input.promptTokens + this.output; }
}

interface Planned { seq: Seq; tokens: number }

export interface EngineCounters {
  requests: number;
  finished: number;
  aborted: number;
  promptTokens: number;
  generationTokens: number;
  /** vLLM's prefix_cache_queries / prefix_cache_hits: prompt tokens looked up, and found. */
  prefixQueriedTokens: number;
  prefixHitTokens: number;
  preemptions: number;
  finishedByReason: Record<FinishReason, number>;
}

const zeroCounters = (): EngineCounters => ({
  requests: 0, finished: 0, aborted: 0, promptTokens: 0, generationTokens: 0,
  prefixQueriedTokens: 0, prefixHitTokens: 0, preemptions: 0, finishedByReason: { stop: 0, length: 0 },
});

export class Engine {
  readonly kv: KvCache;
  counters = zeroCounters();
  records: RequestRecord[] = [];
  ttft = new Histogram(TTFT_BUCKETS);
  private waiting: Seq[] = [];
  private running: Seq[] = [];
  private clock = 0;
  private busy = false;
  /** Set from a kick until the first step runs: everything submitted meanwhile arrived together. */
  private pendingStart: number | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private nextId = 0;
  private readonly t0 = performance.now();

  constructor(readonly cfg: EngineConfig) {
    this.kv = new KvCache(cfg.numGpuBlocks, cfg.blockSize);
  }

  get numRunning(): number { return this.running.length; }
  get numWaiting(): number { return this.waiting.length; }
  /** Current simulated time in ms. */
  now(): number { return (performance.now() - this.t0) / this.cfg.timeScale; }

  /** Largest request (prompt + output tokens) the KV cache can ever hold. */
  get capacityTokens(): number { return this.cfg.numGpuBlocks * this.cfg.blockSize; }

  submit(input: SeqInput, sink: SeqSink): { abort(): void } {
    const seq = new Seq(this.nextId++, input, sink, this.pendingStart ?? this.now());
    this.counters.requests++;
    this.waiting.push(seq);
    this.kick(seq.arrival);
    return { abort: () => this.abort(seq) };
  }

  resetStats(): void {
    this.counters = zeroCounters();
    this.records = [];
    this.ttft = new Histogram(TTFT_BUCKETS);
    this.kv.evictions = 0;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Start the loop if idle; an idle engine's clock jumps to the arrival that woke it. */
  private kick(arrival: number): void {
    if (this.busy || this.stopped) return;
    this.busy = true;
    this.clock = Math.max(this.clock, arrival);
    this.pendingStart = this.clock;
    setImmediate(this.step);
  }

  private step = (): void => {
    if (this.stopped) return;
    this.pendingStart = null;
    const start = this.clock;
    const plan = this.schedule(start);
    if (plan.length === 0) {
      // Nothing runnable: either idle, or the next arrival is still ahead of the simulated clock.
      const next = this.waiting[0];
      if (!next) { this.busy = false; return; }
      this.clock = Math.max(start, next.arrival);
      this.wake(this.clock, this.step);
      return;
    }
    this.clock = start + this.stepMs(plan);
    this.wake(this.clock, () => this.apply(plan));
  };

  private wake(simMs: number, fn: () => void): void {
    const delay = this.t0 + simMs * this.cfg.timeScale - performance.now();
    // Never early: an arrival stamped while a step ran ahead of real time would wait for a step it
    // could not have seen. Running late is harmless (steps then run back to back until caught up).
    if (delay <= 0) setImmediate(fn);
    else this.timer = setTimeout(fn, delay);
  }

  private stepMs(plan: Planned[]): number {
    const { stepBaseMs, decodePerSeqMs, prefillTokensPerSec } = this.cfg.cost;
    let decodes = 0;
    let prefill = 0;
    for (const p of plan) {
      if (p.tokens === 1 && p.seq.output > 0 && p.seq.computed === p.seq.numTokens - 1) decodes++;
      else prefill += p.tokens;
    }
    return stepBaseMs + decodes * decodePerSeqMs + (prefill * 1000) / prefillTokensPerSec;
  }

  /** One scheduling pass: running requests first (decode or the next prefill chunk), then FIFO admissions. */
  private schedule(start: number): Planned[] {
    const plan: Planned[] = [];
    let budget = this.cfg.maxNumBatchedTokens;
    let preempted = false;

    for (let i = 0; i < this.running.length && budget > 0; i++) {
      const seq = this.running[i];
      const tokens = Math.min(seq.numTokens - seq.computed, budget);
      // Out of blocks: preempt from the tail (the most recently admitted) until this one fits.
      while (!this.reserve(seq, tokens)) {
        const victim = this.running.pop() as Seq;
        this.preempt(victim);
        preempted = true;
        if (victim === seq) break;
      }
      if (seq.state !== 'running') break;
      plan.push({ seq, tokens });
      budget -= tokens;
    }

    // As in vLLM, nothing new is admitted in a step that had to preempt.
    while (!preempted && budget > 0 && this.running.length < this.cfg.maxNumSeqs && this.waiting.length > 0) {
      const seq = this.waiting[0];
      if (seq.arrival > start) break;
      const bs = this.cfg.blockSize;
      // The last prompt token is always recomputed to get logits, so at most numTokens-1 can hit.
      const hit = this.cfg.enablePrefixCaching ? this.kv.lookup(seq.input.hashes, Math.floor((seq.numTokens - 1) / bs)) : [];
      const hitTokens = hit.length * bs;
      const tokens = Math.min(seq.numTokens - hitTokens, budget);
      const need = Math.ceil((hitTokens + tokens) / bs) - hit.length;
      const hitFree = hit.filter((b) => b.refs === 0).length;
      if (need > this.kv.freeCount - hitFree) break; // FIFO: the head waits, and so does everyone behind it
      this.kv.touch(hit);
      seq.blocks = [...hit, ...(this.kv.allocate(need) as Block[])];
      seq.registered = hit.length;
      seq.computed = hitTokens;
      seq.cachedTokens = hitTokens;
      if (this.cfg.enablePrefixCaching) {
        this.counters.prefixQueriedTokens += seq.numTokens;
        this.counters.prefixHitTokens += hitTokens;
      }
      if (seq.scheduledAt < 0) {
        seq.scheduledAt = start;
        this.counters.promptTokens += seq.input.promptTokens;
      }
      this.registerFull(seq, hitTokens + tokens);
      this.waiting.shift();
      seq.state = 'running';
      this.running.push(seq);
      plan.push({ seq, tokens });
      budget -= tokens;
    }
    return plan;
  }

  /** Make room for `tokens` more KV slots; false when the cache has too few free blocks. */
  private reserve(seq: Seq, tokens: number): boolean {
    const need = Math.ceil((seq.computed + tokens) / this.cfg.blockSize) - seq.blocks.length;
    if (need > 0) {
      const fresh = this.kv.allocate(need);
      if (!fresh) return false;
      seq.blocks.push(...fresh);
    }
    this.registerFull(seq, seq.computed + tokens);
    return true;
  }

  /** Full blocks become reusable as soon as they are scheduled (vLLM caches at allocation), generated ones included. */
  private registerFull(seq: Seq, tokensWithKv: number): void {
    if (!this.cfg.enablePrefixCaching) return;
    const full = Math.min(Math.floor(tokensWithKv / this.cfg.blockSize), seq.input.hashes.length);
    for (let b = seq.registered; b < full; b++) this.kv.register(seq.blocks[b], seq.input.hashes[b]);
    seq.registered = Math.max(seq.registered, full);
  }

  /** Recompute-style preemption: drop the KV, requeue at the head of the waiting queue. */
  private preempt(seq: Seq): void {
    this.kv.release(seq.blocks);
    seq.blocks = [];
    seq.computed = 0;
    seq.registered = 0;
    seq.state = 'waiting';
    seq.preemptions++;
    this.counters.preemptions++;
    this.waiting.unshift(seq);
  }

  private apply(plan: Planned[]): void {
    if (this.stopped) return;
    const t = this.clock;
    for (const { seq, tokens } of plan) {
      if (seq.state !== 'running') continue; // aborted while the step ran
      seq.computed += tokens;
      if (seq.computed === seq.numTokens) this.sample(seq, t);
    }
    this.step();
  }

  private sample(seq: Seq, t: number): void {
    seq.output++;
    this.counters.generationTokens++;
    if (seq.output === 1) {
      seq.firstTokenAt = t;
      this.ttft.observe((t - seq.arrival) / 1000);
    }
    seq.sink.token(seq.output - 1, t);
    if (seq.output >= seq.input.maxOutput) this.finish(seq, t);
  }

  private finish(seq: Seq, t: number): void {
    this.running.splice(this.running.indexOf(seq), 1);
    this.kv.release(seq.blocks);
    seq.blocks = [];
    seq.state = 'done';
    const reason = seq.input.finishReason;
    this.counters.finished++;
    this.counters.finishedByReason[reason]++;
    this.records.push({
      id: seq.id,
      arrivalMs: seq.arrival,
      promptTokens: seq.input.promptTokens,
      cachedTokens: seq.cachedTokens,
      outputTokens: seq.output,
      queueMs: seq.scheduledAt - seq.arrival,
      ttftMs: seq.firstTokenAt - seq.arrival,
      e2eMs: t - seq.arrival,
      finishReason: reason,
      preemptions: seq.preemptions,
    });
    seq.sink.finish(reason);
  }

  private abort(seq: Seq): void {
    if (seq.state === 'waiting') this.waiting.splice(this.waiting.indexOf(seq), 1);
    else if (seq.state === 'running') {
      this.running.splice(this.running.indexOf(seq), 1);
      this.kv.release(seq.blocks);
      seq.blocks = [];
    } else return;
    seq.state = 'aborted';
    this.counters.aborted++;
  }
}
