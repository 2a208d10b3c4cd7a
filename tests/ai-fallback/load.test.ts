// 1,000 requests, 50 at a time, over two VMs; 30% of the primary's answers fail in one of six ways.
// Every client request must get a well-formed 200 answer, and the books must balance.
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import type { Host, HostResponse } from "../../host/index.ts";
import type { FailureSpec } from "../../e2e/sim/common.ts";
import { startVllm, type VllmSim } from "../../e2e/sim/vllm.ts";
import { startOpenAI, type OpenAISim } from "../../e2e/sim/providers.ts";
import { rng } from "../../e2e/sim/text.ts";
import { BACKUP, PRIMARY, chat, header, openAiStreamText, post, setup } from "./harness.ts";

const TOTAL = 1000;
const FAILURES = 300;
const CONCURRENCY = 50;

let vllm: VllmSim;
let backup: OpenAISim;
let host: Host;

before(async () => {
  vllm = await startVllm({ timeScale: 0.005, seed: 7 });
  backup = await startOpenAI({ timeScale: 0.005, seed: 8 });
  host = await setup({
    // Circuit breaking off: every request meets the primary, so exactly the injected failures happen.
    config: { primary: { name: "vllm" }, fallbacks: [{ name: "backup", cluster: BACKUP, model: "gpt-4o-mini", timeout: 10000 }],
      // Long enough that only the injected hangs time out, also on a loaded 2-core machine.
      timeout: 4000,
      circuit_breaker: { failure_threshold: 0 } },
    clusters: { [PRIMARY]: vllm, [BACKUP]: backup },
    vms: 2,
  });
});
after(async () => {
  host.close();
  await vllm.close();
  await backup.close();
});

const KINDS: Array<[string, FailureSpec]> = [
  ["500", { status: 500 }], ["503", { status: 503 }], ["429", { status: 429 }],
  ["reset", { reset: true }], ["malformed", { malformed: true }], ["timeout", { hang: true }],
];

it(`${TOTAL} requests, ${FAILURES} primary failures: every request gets a well-formed answer`, async () => {
  const rand = rng(42);
  // Which requests fail, and how: exactly FAILURES of them.
  const plan: Array<string | null> = Array.from({ length: TOTAL }, (_, i) => (i < FAILURES ? KINDS[i % KINDS.length][0] : null));
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  const injected = new Map<string, number>();
  const results: Array<{ stream: boolean; r: HostResponse }> = new Array(TOTAL);
  let next = 0;
  const worker = async () => {
    while (next < TOTAL) {
      const i = next++;
      const kind = plan[i];
      if (kind) {
        // The next request to reach the primary meets this failure (whichever of the 50 in flight it is).
        vllm.inject({ ...KINDS.find(([k]) => k === kind)![1], times: 1 });
        injected.set(kind, (injected.get(kind) ?? 0) + 1);
      }
      const stream = i % 2 === 1;
      results[i] = { stream, r: await post(host, chat({ stream, messages: [{ role: "user", content: `question ${i}` }] })) };
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (Date.now() - t0) / 1000;

  const served = new Map<string, number>();
  const reasons = new Map<string, number>();
  for (const [i, { stream, r }] of results.entries()) {
    assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.equal(r.reset, false);
    if (stream) assert.ok(openAiStreamText(r.text).length > 0, `request ${i}: empty stream`);
    else assert.ok(JSON.parse(r.text).choices[0].message.content.length > 0, `request ${i}: empty answer`);
    const by = header(r, "x-ai-served-by")!.split(";")[0];
    served.set(by, (served.get(by) ?? 0) + 1);
    const tried = header(r, "x-ai-fallback-tried");
    if (tried) {
      const m = /^vllm=(.+)$/.exec(tried);
      assert.ok(m, `request ${i}: tried ${tried}`);
      const reason = m[1];
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
  }
  assert.equal(results.filter(Boolean).length, TOTAL, "no request lost");
  assert.equal(served.get("vllm"), TOTAL - FAILURES);
  assert.equal(served.get("backup"), FAILURES);
  assert.deepEqual([...reasons.entries()].sort(), [...injected.entries()].sort());
  assert.equal(host.metric("ai_fallback.fallbacks"), FAILURES);
  assert.equal(host.metric("ai_fallback.vllm.failures"), FAILURES);
  assert.equal(host.trapCount(), 0);
  process.stderr.write(`# ${TOTAL} requests in ${seconds.toFixed(1)} s; fallback reasons ${JSON.stringify(Object.fromEntries(reasons))}\n`);
});
