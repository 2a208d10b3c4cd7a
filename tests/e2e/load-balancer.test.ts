// Seed demo 4: ai-load-balancer in front of a simulated vLLM cluster of three replicas (each with its
// own KV cache and prefix caching). Multi-turn conversations should stay on the replica that holds
// their prefix, new conversations should spread, and an endpoint that fails its health check must
// get nothing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import type { VllmSim } from "../../e2e/sim/vllm.ts";
import { type Demo, ruleConfig, startDemo } from "./helpers.ts";

const MODEL = "meta-llama/Llama-3.1-8B-Instruct";
// A long first message (a pasted document) makes the conversation's prefix worth many KV blocks.
const DOCUMENT = Array.from({ length: 60 }, (_, i) => `Clause ${i}: the supplier delivers batch ${i} within ${i + 3} days.`).join(" ");

let prefix: Demo;
let roundRobin: Demo;

const fastHealth = (cfg: Parameters<NonNullable<Parameters<typeof startDemo>[0]>>[0]) => {
  cfg.clusters.find((c) => c.name.endsWith("vllm.dns"))!.health!.intervalMs = 100;
};

before(async () => {
  prefix = await startDemo(fastHealth);
  roundRobin = await startDemo((cfg) => { ruleConfig(cfg, "ai-load-balancer", "vllm").lb_policy = "round_robin"; });
});
after(async () => { await prefix.close(); await roundRobin.close(); });

/** Runs `n` conversations of `turns` turns each (concurrently, or one after the other); returns the replica of every turn. */
async function conversations(demo: Demo, n: number, turns: number, tag: string, sequential = false): Promise<string[][]> {
  const client = new OpenAI({ baseURL: `${demo.url}/vllm/v1`, apiKey: "unused", maxRetries: 0 });
  const sims = demo.sims("vllm") as VllmSim[];
  const endpointOf = (id: string) => {
    const i = sims.findIndex((s) => s.requests.some((r) => r.body?.messages?.at(-1)?.content === id));
    return i < 0 ? "?" : `replica ${i}`;
  };
  const one = async (c: number) => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "system", content: "You are a contracts assistant." }];
    const seen: string[] = [];
    for (let t = 0; t < turns; t++) {
      const q = t === 0 ? `${tag} conversation ${c}: ${DOCUMENT} Summarise it.` : `${tag} conversation ${c}, follow-up ${t}: and clause ${t}?`;
      messages.push({ role: "user", content: q });
      const res = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 8 });
      messages.push({ role: "assistant", content: res.choices[0].message.content ?? "" });
      seen.push(endpointOf(q));
    }
    return seen;
  };
  if (!sequential) return Promise.all(Array.from({ length: n }, (_, c) => one(c)));
  const out: string[][] = [];
  for (let c = 0; c < n; c++) out.push(await one(c));
  return out;
}

function hitRate(demo: Demo): number {
  const stats = (demo.sims("vllm") as VllmSim[]).map((s) => s.stats());
  const queried = stats.reduce((n, s) => n + s.prefixQueriedTokens, 0);
  return stats.reduce((n, s) => n + s.prefixHitTokens, 0) / queried;
}

test("prefix_cache keeps each conversation on one replica and spreads conversations", async () => {
  const runs = await conversations(prefix, 6, 3, "pc");
  const sticky = runs.filter((turns) => new Set(turns).size === 1).length;
  assert.ok(sticky >= 5, `conversations that stayed on one replica: ${sticky}/6 (${JSON.stringify(runs)})`);
  assert.ok(new Set(runs.map((t) => t[0])).size >= 2, `first turns spread over replicas: ${JSON.stringify(runs)}`);
  const recs = prefix.records.filter((r) => r.route === "higress-system/vllm");
  assert.equal(recs.length, 18);
  assert.ok(recs.every((r) => r.status === 200 && r.tokensIn! > 0 && r.tokensOut === 8));
});

test("prefix affinity beats round robin on the replicas' own prefix-cache hit rate", async () => {
  // One conversation after the other, so round robin cannot line turns up with replicas by accident.
  for (const demo of [prefix, roundRobin]) {
    (demo.sims("vllm") as VllmSim[]).forEach((s) => s.resetStats());
    await conversations(demo, 4, 3, "seq", true);
  }
  const pc = hitRate(prefix);
  const rr = hitRate(roundRobin);
  assert.ok(pc > rr + 0.15, `prefix_cache hit rate ${pc.toFixed(2)} vs round robin ${rr.toFixed(2)}`);
});

test("a replica failing its health check gets no traffic until it recovers", async () => {
  const sims = prefix.sims("vllm") as VllmSim[];
  sims[1].inject({ status: 503, paths: ["/health"] });
  const cluster = prefix.gw.host.cluster("outbound|8000||vllm.dns")!;
  const sick = cluster.endpoints.find((e) => e.port === sims[1].port)!;
  for (let i = 0; i < 50 && sick.healthy; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(sick.healthy, false, "the health check marked it");
  const before = sims[1].requests.filter((r) => r.path === "/v1/chat/completions").length;
  const runs = await conversations(prefix, 4, 2, "sick");
  assert.ok(runs.flat().every((e) => e !== "replica 1"), JSON.stringify(runs));
  assert.equal(sims[1].requests.filter((r) => r.path === "/v1/chat/completions").length, before);
  sims[1].clearFailures();
  for (let i = 0; i < 50 && !sick.healthy; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(sick.healthy, true, "and back once /health answers again");
});
