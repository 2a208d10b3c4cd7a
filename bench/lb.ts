// Load-balancer benchmark: the same request sequences through the real host and the real plugin
// (dist/ai-load-balancer.wasm) in front of simulated vLLM servers, once per policy:
//   round_robin           the plugin's round robin (what a cache-blind balancer does)
//   global_least_request  in-flight counts in Redis (Higress's policy)
//   higress_prefix        Higress 2.1's prefix_cache reproduced (XOR keys, sticky, Redis)
//   prefix_cache          ours (chained block hashes, score against load, hot-spot guard, Redis)
// on 3 servers and on 8, for the workloads of bench/lb/workloads.ts. Times are the simulated GPUs'
// (e2e/sim/README.md). Needs redis-server on the PATH. Run: npm run bench:lb
// LB_SERVERS=3 / LB_WORKLOADS=multi_turn / LB_POLICIES=round_robin,prefix_cache narrow a run;
// LB_OUTPUT_SCALE=0.25 multiplies every reply's length; LB_OURS='{"inflightCostTokens":1024}' adds to our policy's
// lb_config (for tuning); LB_GPU=l20 simulates L20s instead of A100s (e2e/sim/README.md).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { RedisServer } from "../tests/support/redis.ts";
import { runWorkload, type RunResult } from "./lb/run.ts";
import { SimFleet } from "./lb/sims.ts";
import { WORKLOADS, multiTurn } from "./lb/workloads.ts";
import { GPUS, type GpuName } from "../e2e/sim/engine.ts";

const REDIS = { serviceFQDN: "redis.dns", servicePort: 6379, timeout: 1000 };
const POLICIES: Array<{ name: string; config: object }> = [
  { name: "round_robin", config: { lb_policy: "round_robin" } },
  { name: "global_least_request", config: { lb_policy: "global_least_request", lb_config: REDIS } },
  { name: "higress_prefix", config: { lb_policy: "higress_prefix_cache", lb_config: REDIS } },
  { name: "prefix_cache", config: { lb_policy: "prefix_cache", lb_config: { ...REDIS, ...JSON.parse(process.env.LB_OURS ?? "{}") } } },
];
const OURS = "prefix_cache";

function listEnv(name: string): string[] | null {
  const v = process.env[name];
  return v ? v.split(",").map((s) => s.trim()).filter(Boolean) : null;
}

interface Row { workload: string; servers: number; policy: string; r: RunResult }

const pad = (s: string | number, w: number) => String(s).padStart(w);
const fx = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "-");

function printTable(rows: Row[]): void {
  console.log(`${"workload".padEnd(14)}${pad("srv", 4)}  ${"policy".padEnd(21)}${pad("ttft p50", 9)}${pad("ttft p90", 9)}${pad("tok/s", 8)}${pad("run tok/s", 10)}` +
    `${pad("hit", 7)}${pad("max/mean", 9)}${pad("per server", 26)}${pad("errors", 7)}${pad("sim busy", 9)}${pad("wall s", 7)}`);
  for (const { workload, servers, policy, r } of rows) {
    console.log(`${workload.padEnd(14)}${pad(servers, 4)}  ${policy.padEnd(21)}${pad(fx(r.ttftP50), 9)}${pad(fx(r.ttftP90), 9)}${pad(fx(r.tokS), 8)}${pad(fx(r.tokSWall), 10)}` +
      `${pad(fx(r.hit, 3), 7)}${pad(fx(r.maxOverMean, 2), 9)}${pad(r.perServer.join(","), 26)}${pad(r.errors, 7)}${pad(fx(r.simBusy, 2), 9)}${pad(fx(r.wallS, 1), 7)}`);
  }
}

async function main(): Promise<void> {
  execFileSync("node", ["scripts/build.mjs", "ai-load-balancer"], { stdio: "inherit" });
  const wasm = readFileSync("dist/ai-load-balancer.wasm");
  const shapes = (listEnv("LB_SERVERS") ?? ["3", "8"]).map(Number);
  const onlyW = listEnv("LB_WORKLOADS");
  const onlyP = listEnv("LB_POLICIES");
  const gpu = (process.env.LB_GPU ?? "a100") as GpuName;
  if (!(gpu in GPUS)) throw new Error(`LB_GPU: one of ${Object.keys(GPUS).join(", ")}`);
  const redis = await RedisServer.start();
  const fleet = SimFleet.open();
  const rows: Row[] = [];
  try {
    // Warm-up (not reported): both processes' JIT, so the first measured run is not burstier than the rest.
    const warm = multiTurn();
    warm.sessions = warm.sessions.slice(0, 20).map((s) => ({ ...s, turns: s.turns.slice(0, 2) }));
    for (const p of [POLICIES[0], POLICIES[POLICIES.length - 1]]) {
      await redis.command("FLUSHALL");
      await runWorkload(warm, { wasm, fleet, servers: 3, redisPort: redis.port, config: p.config, gpu });
    }
    for (const servers of shapes) {
      for (const make of WORKLOADS) {
        const w = make();
        if (onlyW && !onlyW.includes(w.name)) continue;
        const scale = Number(process.env.LB_OUTPUT_SCALE ?? 1);
        for (const s of w.sessions) for (const t of s.turns) t.maxTokens = Math.max(1, Math.round(t.maxTokens * scale));
        console.log(`\n${w.name} on ${servers} servers (${gpu}): ${w.about}; time scale ${w.timeScale}`);
        for (const p of POLICIES) {
          if (onlyP && !onlyP.includes(p.name)) continue;
          await redis.command("FLUSHALL");
          const r = await runWorkload(w, { wasm, fleet, servers, redisPort: redis.port, config: p.config, gpu });
          rows.push({ workload: w.name, servers, policy: p.name, r });
          console.log(`  ${p.name.padEnd(21)} ttft p50 ${fx(r.ttftP50)} ms, p90 ${fx(r.ttftP90)} ms, ${fx(r.tokS)} tok/s (run ${fx(r.tokSWall)}), hit ${fx(r.hit, 3)}, ` +
            `max/mean ${fx(r.maxOverMean, 2)} (${r.perServer.join(",")})${r.errors ? `, ${r.errors} errors` : ""} [${fx(r.wallS, 1)} s]`);
        }
      }
    }
  } finally {
    await fleet.close();
    await redis.down();
  }

  console.log("\nTimes are simulated GPU milliseconds (TTFT from arrival at the server to its first token).");
  console.log("tok/s: concurrency x output tokens / mean request latency (closed loop, no think time); run tok/s: output tokens /");
  console.log("(last completion - first arrival), GenAI-Perf's definition, which also counts the tail of the run; hit: prefix-cache");
  console.log("hit tokens / prompt tokens over all servers; max/mean: requests served by the busiest server over the mean.\n");
  printTable(rows);

  const get = (w: string, s: number, p: string) => rows.find((x) => x.workload === w && x.servers === s && x.policy === p)?.r;
  console.log("");
  const ratioLines: string[] = [];
  for (const servers of shapes) {
    for (const w of [...new Set(rows.filter((x) => x.servers === servers).map((x) => x.workload))]) {
      const ours = get(w, servers, OURS), rr = get(w, servers, "round_robin"), hi = get(w, servers, "higress_prefix");
      if (!ours) continue;
      const parts = [`BENCH lb workload=${w} servers=${servers} ratio`];
      if (rr) parts.push(`ttft_p50_vs_rr=${fx(ours.ttftP50 / rr.ttftP50, 2)}`, `tok_s_vs_rr=${fx(ours.tokS / rr.tokS, 2)}`, `tok_s_run_vs_rr=${fx(ours.tokSWall / rr.tokSWall, 2)}`);
      if (hi) parts.push(`ttft_p50_vs_higress=${fx(ours.ttftP50 / hi.ttftP50, 2)}`, `ttft_p90_vs_higress=${fx(ours.ttftP90 / hi.ttftP90, 2)}`,
        `tok_s_vs_higress=${fx(ours.tokS / hi.tokS, 2)}`, `max_over_mean_higress=${fx(hi.maxOverMean, 2)}`);
      parts.push(`max_over_mean=${fx(ours.maxOverMean, 2)}`);
      ratioLines.push(parts.join(" "));
    }
  }
  for (const { workload, servers, policy, r } of rows) {
    console.log(`BENCH lb workload=${workload} servers=${servers} policy=${policy} ttft_p50_ms=${fx(r.ttftP50)} ttft_p90_ms=${fx(r.ttftP90)} ` +
      `tok_s=${fx(r.tokS)} tok_s_run=${fx(r.tokSWall)} hit=${fx(r.hit, 3)} max_over_mean=${fx(r.maxOverMean, 2)}`);
  }
  for (const l of ratioLines) console.log(l);
}

await main();
