// ai-load-balancer in front of simulated vLLM servers (e2e/sim/vllm.ts): what the servers' own prefix
// caches and metrics say about the plugin's decisions.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startVllm, type VllmSim } from "../../e2e/sim/vllm.ts";
import type { Host } from "../../host/index.ts";
import { chat, lbHost, post } from "./harness.ts";
import { filler } from "./scenario.ts";

let sims: VllmSim[] = [];
before(async () => {
  for (let i = 0; i < 3; i++) sims.push(await startVllm({ timeScale: 0.02, seed: 1 }));
});
after(async () => { await Promise.all(sims.map((s) => s.close())); });

const endpoints = () => sims.map((s) => ({ address: `127.0.0.1:${s.port}`, metrics: { url: `${s.url}/metrics` } }));

/** Four conversations of four turns, two at a time; returns the servers' prefix-cache hit rate. */
async function converse(host: Host): Promise<{ hit: number; homes: number[][] }> {
  for (const s of sims) s.resetStats();
  const before = sims.map((s) => s.requests.length);
  const run = async (c: number) => {
    const messages: Array<{ role: string; content: string }> = [{ role: "system", content: `Assistant ${c}.` }];
    for (let t = 0; t < 4; t++) {
      messages.push({ role: "user", content: `Conversation ${c}, turn ${t}: ` + filler(c * 10 + t, 1600) });
      const r = await post(host, chat(messages, { max_tokens: 24 }));
      assert.equal(r.status, 200);
      messages.push({ role: "assistant", content: r.json<any>().choices[0].message.content });
    }
  };
  await Promise.all([run(0), run(1)]);
  await Promise.all([run(2), run(3)]);
  let q = 0, h = 0;
  for (const s of sims) { const st = s.stats(); q += st.prefixQueriedTokens; h += st.prefixHitTokens; }
  // Which servers each conversation's requests reached.
  const homes = [0, 1, 2, 3].map((c) => sims.map((s, i) => s.requests.slice(before[i]).filter((r) => r.rawBody.includes(`Conversation ${c},`)).length));
  return { hit: h / q, homes };
}

describe("ai-load-balancer with simulated vLLM servers", () => {
  it("prefix_cache keeps conversations on one server and raises the servers' prefix-cache hits", async () => {
    const rr = await lbHost({ lb_policy: "round_robin" }, endpoints());
    const ours = await lbHost({ lb_policy: "prefix_cache" }, endpoints());
    try {
      const blind = await converse(rr);
      const aware = await converse(ours);
      for (const per of aware.homes) assert.equal(per.filter((n) => n > 0).length, 1, `one server per conversation: ${per}`);
      assert.ok(blind.homes.some((per) => per.filter((n) => n > 0).length > 1), "round robin moves conversations");
      assert.ok(aware.hit > blind.hit + 0.2, `hit rate ${aware.hit.toFixed(2)} vs round robin ${blind.hit.toFixed(2)}`);
    } finally { rr.close(); ours.close(); }
  });

  it("endpoint_metrics reads the servers' vLLM metrics as the host scrapes them", async () => {
    const host = await lbHost({ lb_policy: "endpoint_metrics", lb_config: { metric_policy: "least", target_metric: "vllm:num_requests_running" } }, endpoints());
    try {
      // Keep two servers busy with long generations (no balancer: straight to them).
      const stop = new AbortController();
      const busy = [0, 1].map((i) => fetch(`${sims[i].url}/v1/chat/completions`, {
        method: "POST", headers: { "content-type": "application/json" }, signal: stop.signal,
        body: JSON.stringify({ messages: [{ role: "user", content: "write a lot" }], max_tokens: 4000 }),
      }));
      await new Promise((r) => setTimeout(r, 50));
      await host.refreshUpstreamMetrics();
      for (let i = 0; i < 3; i++) {
        const r = await post(host, chat([{ role: "user", content: `quick ${i}` }], { max_tokens: 2 }));
        assert.equal(r.upstreamRequest?.endpoint, `127.0.0.1:${sims[2].port}`);
      }
      stop.abort();
      await Promise.allSettled(busy);
    } finally { host.close(); }
  });
});
