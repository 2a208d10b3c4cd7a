// The request sequences of the load-balancer benchmark. Deterministic: the same sessions, in the same
// order, for every policy (the simulated servers' replies depend only on the prompt and the seed).
// Lengths vary around their means (input ±25%, output ±50%), as real traffic does: equal lengths would
// keep the closed-loop sessions in lockstep, so their turns would reach the servers in bursts.
import { rng } from "../../e2e/sim/text.ts";

export interface Msg { role: "system" | "user" | "assistant"; content: string }

export interface Turn {
  user: string;
  /** Output tokens of the reply (the simulated server generates exactly this many). */
  maxTokens: number;
}

export interface Session {
  /** Messages every turn starts with (a system prompt, a shared document...). */
  prefix: Msg[];
  /** The user message of each turn; the model's replies are added to the history as they come. */
  turns: Turn[];
}

export interface Workload {
  name: string;
  about: string;
  sessions: Session[];
  /** Sessions in flight at once (each runs its turns one after another: a closed loop). */
  concurrency: number;
  /**
   * Simulated time per real time. Chosen per workload so the simulators' own CPU (a few ms per reply,
   * see the report) stays well below one core at the request rate the workload reaches.
   */
  timeScale: number;
  /** KV-cache blocks (16 tokens each) per simulated server, when not the simulator's default (25,000). */
  numGpuBlocks?: number;
}

const WORDS = (
  "the model server keeps a cache of attention keys and values for every prompt block so a request whose " +
  "prompt starts like an earlier one skips that part of the prefill work which is why routing matters for " +
  "latency throughput and cost across a cluster of replicas serving many users at once with long contexts"
).split(" ");

/** About `tokens` simulated tokens (4 bytes each) of text, reproducible from `key`. */
export function text(key: number, tokens: number): string {
  const r = rng(key);
  let s = "";
  while (s.length < tokens * 4) s += (s ? " " : "") + WORDS[Math.floor(r() * WORDS.length)];
  return s;
}

/** A turn of about `input` tokens asking for about `output` tokens, both drawn from `key`. */
function turn(key: number, label: string, input: number, output: number): Turn {
  const r = rng(key * 7919 + 17);
  const inTokens = Math.round(input * (0.75 + 0.5 * r()));
  return { user: `${label}: ` + text(key, inTokens), maxTokens: Math.max(1, Math.round(output * (0.5 + r()))) };
}

/**
 * The seed's benchmark (Higress blog): 60 sessions x 5 turns, ~200 input tokens per turn, ~800 output
 * tokens per reply, concurrency 20 (GenAI-Perf multi-turn, no system prompt).
 */
export function multiTurn(): Workload {
  const sessions: Session[] = [];
  for (let s = 0; s < 60; s++) {
    const turns: Turn[] = [];
    for (let t = 0; t < 5; t++) turns.push(turn(1000 * s + t + 1, `Session ${s}, question ${t}`, 200, 800));
    sessions.push({ prefix: [], turns });
  }
  return { name: "multi_turn", about: "60 sessions x 5 turns, ~200 in / ~800 out tokens per turn, concurrency 20", sessions, concurrency: 20, timeScale: 0.05 };
}

/** Many short conversations behind one long system prompt (an agent's instructions and tool docs). */
export function sharedSystem(): Workload {
  const system: Msg = { role: "system", content: "You are the support agent. " + text(7, 2000) };
  const sessions: Session[] = [];
  for (let s = 0; s < 90; s++) {
    const turns: Turn[] = [];
    for (let t = 0; t < 3; t++) turns.push(turn(50000 + 10 * s + t, `Customer ${s}, message ${t}`, 100, 100));
    sessions.push({ prefix: [system], turns });
  }
  return { name: "shared_system", about: "90 sessions x 3 turns behind one 2,000-token system prompt, ~100 in / ~100 out, concurrency 20", sessions, concurrency: 20, timeScale: 0.5 };
}

/**
 * One very hot prefix: every request carries the same instructions and the same 2,000-token document,
 * then its own question (retrieval over one popular document, a few-shot template...).
 */
export function hotPrefix(): Workload {
  const prefix: Msg[] = [
    { role: "system", content: "Answer from the document only. " + text(11, 500) },
    { role: "user", content: "Here is the document:\n" + text(13, 2000) },
    { role: "assistant", content: "I have read the document. What would you like to know?" },
  ];
  const sessions: Session[] = [];
  for (let s = 0; s < 240; s++) sessions.push({ prefix, turns: [turn(90000 + s, `Question ${s}`, 50, 100)] });
  return { name: "hot_prefix", about: "240 requests sharing one 2,500-token prefix, ~50 in / ~100 out, concurrency 24", sessions, concurrency: 24, timeScale: 0.5 };
}

/**
 * Not in the seed's list, added to show KV-cache pressure: 24 documents of ~2,000 tokens, each asked
 * about 10 times, the document inside the user message (retrieval-augmented QA); every server's KV
 * cache holds ~24,000 tokens, half of all documents. Whoever sends every document everywhere evicts.
 */
export function docQa(): Workload {
  const docs = Array.from({ length: 24 }, (_, d) => text(70000 + d, 2000));
  const pick = rng(424242);
  const sessions: Session[] = [];
  for (let i = 0; i < 240; i++) {
    const d = Math.floor(pick() * docs.length);
    const t = turn(80000 + i, `Question ${i}`, 40, 100);
    sessions.push({
      prefix: [{ role: "system", content: "Answer from the given document." }],
      turns: [{ user: `Document ${d}:\n${docs[d]}\n\n${t.user}`, maxTokens: t.maxTokens }],
    });
  }
  return { name: "doc_qa", about: "240 questions over 24 documents of ~2,000 tokens inside the user message, ~100 out, concurrency 20, 24k tokens of KV cache per server", sessions, concurrency: 20, timeScale: 0.5, numGpuBlocks: 1500 };
}

export const WORKLOADS = [multiTurn, sharedSystem, hotPrefix, docQa];
