// One benchmark run: fresh simulated vLLM servers (cold caches), the real host with the real plugin in
// front of them, the workload's sessions driven as a closed loop; then the servers' own statistics.
import { Host } from "../../host/index.ts";
import { SimFleet } from "./sims.ts";
import type { Workload, Msg, Turn } from "./workloads.ts";
import type { GpuName } from "../../e2e/sim/engine.ts";

export const ROUTE = "llm-route";
export const CLUSTER = "outbound|8000||vllm.dns";
export const REDIS_CLUSTER = "outbound|6379||redis.dns";
export const MODEL = "meta-llama/Llama-3.1-8B-Instruct";

export interface RunOptions {
  /** The plugin, read once (a concurrent build must not swap it mid-benchmark). */
  wasm: Uint8Array;
  fleet: SimFleet;
  servers: number;
  redisPort: number;
  /** Plugin configuration (lb_policy, lb_config). */
  config: object;
  /** The simulated servers' hardware. */
  gpu: GpuName;
}

export interface RunResult {
  requests: number;
  errors: number;
  /** Simulated milliseconds (what the GPUs would show). */
  ttftP50: number;
  ttftP90: number;
  /**
   * Output tokens per simulated second of a closed loop with no think time (Little's law:
   * concurrency x mean output tokens / mean request latency), from the servers' own timings.
   */
  tokS: number;
  /** Output tokens per simulated second from the first arrival to the last completion (includes the harness's own gaps). */
  tokSWall: number;
  /** Prompt tokens served from the servers' prefix caches over prompt tokens looked up. */
  hit: number;
  /** Requests served by the busiest server over the mean per server. */
  maxOverMean: number;
  perServer: number[];
  /** Real seconds the run took. */
  wallS: number;
  /** Share of real time the simulators' process was busy (near 1: their own CPU, not the model, set the pace). */
  simBusy: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export async function runWorkload(w: Workload, o: RunOptions): Promise<RunResult> {
  const fleet = o.fleet;
  const ports = await fleet.start(o.servers, { timeScale: w.timeScale, seed: 1, model: MODEL, numGpuBlocks: w.numGpuBlocks, gpu: o.gpu });
  const host = new Host({
    clusters: {
      [CLUSTER]: { endpoints: ports.map((p) => ({ address: `127.0.0.1:${p}`, metrics: { url: `http://127.0.0.1:${p}/metrics` } })) },
      [REDIS_CLUSTER]: { endpoints: [`127.0.0.1:${o.redisPort}`] },
    },
    logLevel: "warn",
  });
  await host.addPlugin({ name: "ai-load-balancer", wasm: o.wasm, config: o.config, phase: "default", priority: 50 });
  host.addRoute({ name: ROUTE, cluster: CLUSTER });

  // Each engine's clock at the start, so records of different servers share one time line.
  const origin = await fleet.origin();
  const started = performance.now();
  let errors = 0;
  let next = 0;
  const session = async (prefix: Msg[], turns: Turn[]) => {
    const messages: Msg[] = [...prefix];
    for (const t of turns) {
      messages.push({ role: "user", content: t.user });
      const r = await host.request({
        method: "POST", path: "/v1/chat/completions", authority: "gw",
        body: { model: MODEL, messages, max_tokens: t.maxTokens, stream: false },
      });
      if (r.status !== 200) { errors++; messages.pop(); return; }
      const reply = r.json<{ choices: Array<{ message: { content: string } }> }>().choices[0].message.content;
      messages.push({ role: "assistant", content: reply });
    }
  };
  const worker = async () => {
    while (next < w.sessions.length) {
      const s = w.sessions[next++];
      await session(s.prefix, s.turns);
    }
  };
  await Promise.all(Array.from({ length: w.concurrency }, worker));
  const wallS = (performance.now() - started) / 1000;

  const ttfts: number[] = [];
  let first = Infinity, last = -Infinity, tokens = 0, queried = 0, hits = 0, e2e = 0;
  const perServer: number[] = [];
  const { servers: stats, busy } = await fleet.stats();
  stats.forEach((st, i) => {
    perServer.push(st.perRequest.length);
    queried += st.prefixQueriedTokens;
    hits += st.prefixHitTokens;
    tokens += st.generationTokens;
    for (const r of st.perRequest) {
      ttfts.push(r.ttftMs);
      e2e += r.e2eMs;
      first = Math.min(first, r.arrivalMs - origin[i]);
      last = Math.max(last, r.arrivalMs + r.e2eMs - origin[i]);
    }
  });
  host.close();
  await fleet.stop();
  ttfts.sort((a, b) => a - b);
  const mean = perServer.reduce((a, b) => a + b, 0) / perServer.length;
  return {
    requests: ttfts.length, errors,
    ttftP50: quantile(ttfts, 0.5), ttftP90: quantile(ttfts, 0.9),
    tokS: (w.concurrency * tokens) / (e2e / 1000),
    tokSWall: tokens / ((last - first) / 1000),
    hit: queried ? hits / queried : 0,
    maxOverMean: Math.max(...perServer) / mean,
    perServer, wallS, simBusy: busy,
  };
}
