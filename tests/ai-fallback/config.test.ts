// ai-fallback's configuration as Higress delivers it: per-route `_rules_`, the example WasmPlugin (the
// seeds' case: a self-hosted vLLM model falling back to DashScope's qwen-plus), and the console schema.
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import Ajv from "ajv";
import { Host } from "../../host/index.ts";
import { startVllm, type VllmSim } from "../../e2e/sim/vllm.ts";
import { startDashScope, startOpenAI, type DashScopeSim, type OpenAISim } from "../../e2e/sim/providers.ts";
import { BACKUP, PRIMARY, QWEN, WASM, buildPlugins, chat, header, openAiStreamText, post } from "./harness.ts";

let vllm: VllmSim;
let backup: OpenAISim;
let qwen: DashScopeSim;
let host: Host | null = null;

before(async () => {
  buildPlugins();
  vllm = await startVllm({ timeScale: 0.01, seed: 1 });
  backup = await startOpenAI({ timeScale: 0.01, seed: 2 });
  qwen = await startDashScope({ timeScale: 0.01, seed: 3, apiKeys: ["sk-your-dashscope-key"] });
});
after(async () => {
  await vllm.close();
  await backup.close();
  await qwen.close();
});
afterEach(() => {
  host?.close();
  host = null;
  for (const s of [vllm, backup, qwen]) { s.clearFailures(); s.clearRequests(); }
});

const endpoint = (port: number) => ({ endpoints: [`127.0.0.1:${port}`] });

/** Routes "default/<name>" with path prefix "/<name>", all to the primary cluster. */
async function gateway(config: object, routes: string[], extraClusters: Record<string, object> = {}): Promise<Host> {
  host = new Host({ clusters: { [PRIMARY]: endpoint(vllm.port), [BACKUP]: endpoint(backup.port), [QWEN]: endpoint(qwen.port), ...extraClusters } });
  await host.addPlugin({ name: "ai-fallback", wasm: WASM, config, priority: 150 });
  for (const r of routes) host.addRoute({ name: `default/${r}`, match: { prefix: `/${r}/` }, cluster: PRIMARY });
  return host;
}

describe("per-route _rules_", () => {
  it("a rule's targets apply on its route, the global ones elsewhere", async () => {
    const h = await gateway({
      primary: { name: "vllm" },
      fallbacks: [{ name: "backup", cluster: BACKUP, model: "gpt-4o-mini" }],
      _rules_: [{ _match_route_: ["default/cloud"], fallbacks: [{ name: "qwen", cluster: QWEN, protocol: "dashscope", model: "qwen-plus",
        headers: { authorization: "Bearer sk-your-dashscope-key" } }] }],
    }, ["chat", "cloud"]);
    vllm.inject({ status: 503, times: 2 });
    const a = await post(h, chat(), {}, "/chat/v1/chat/completions");
    const b = await post(h, chat(), {}, "/cloud/v1/chat/completions");
    assert.equal(header(a, "x-ai-served-by"), "backup; model=gpt-4o-mini");
    assert.equal(header(b, "x-ai-served-by"), "qwen; model=qwen-plus");
    assert.equal(JSON.parse(b.text).object, "chat.completion");
  });

  it("with only rules, other routes are left alone", async () => {
    const h = await gateway({ _rules_: [{ _match_route_: ["default/cloud"], fallbacks: [{ name: "backup", cluster: BACKUP }] }] }, ["chat", "cloud"]);
    vllm.inject({ status: 503, times: 1 });
    const r = await post(h, chat(), {}, "/chat/v1/chat/completions");
    assert.equal(r.status, 503);
    assert.equal(header(r, "x-ai-served-by"), undefined);
    assert.equal(backup.requests.length, 0);
  });

  it("a bad rule names its field and the plugin refuses the config", async () => {
    await assert.rejects(gateway({ _rules_: [{ _match_route_: ["x"], fallbacks: [{ name: "a" }] }] }, ["chat"]));
  });
});

describe("wasmplugin.yaml and spec.yaml", () => {
  const wp = parseYaml(readFileSync("plugins/ai-fallback/wasmplugin.yaml", "utf8"));
  const spec = parseYaml(readFileSync("plugins/ai-fallback/spec.yaml", "utf8"));
  // What Higress's controller hands the plugin: defaultConfig plus _rules_ from matchRules.
  const config = { ...wp.spec.defaultConfig, _rules_: wp.spec.matchRules.map((m: { ingress: string[]; config: object }) => ({ _match_route_: m.ingress, ...m.config })) };

  it("the console schema accepts the examples, and phase/priority agree", () => {
    const validate = new Ajv({ strict: false }).compile(spec.spec.configSchema.openAPIV3Schema);
    assert.ok(validate(spec.spec.configSchema.openAPIV3Schema.example), JSON.stringify(validate.errors));
    assert.ok(validate(wp.spec.defaultConfig), JSON.stringify(validate.errors));
    for (const m of wp.spec.matchRules) assert.ok(validate(m.config), JSON.stringify(validate.errors));
    assert.ok(!validate({ fallbacks: [{ name: "no cluster" }] }));
    assert.equal(wp.spec.priority, spec.spec.priority);
    assert.equal(wp.spec.phase === "UNSPECIFIED_PHASE" ? "default" : wp.spec.phase, spec.spec.phase);
  });

  it("the seeds' case: vLLM fails, DashScope's qwen-plus answers; then the compatible-mode target", async () => {
    // The second target (DashScope's OpenAI-compatible mode) is played by an in-process upstream
    // that records what it got and answers as that mode does.
    const intl: Array<{ path: string; authorization: string; body: { model: string; stream?: boolean } }> = [];
    const h = await gateway(config, ["chat", "batch-chat"], {
      "outbound|443||dashscope.dns": endpoint(qwen.port),
      "outbound|443||dashscope-intl.dns": { handler: (req: { path: string; headers: Array<[string, string]>; body: Buffer }) => {
        const body = JSON.parse(req.body.toString());
        intl.push({ path: req.path, authorization: new Map(req.headers).get("authorization") ?? "", body });
        return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({
          id: "chatcmpl-intl", object: "chat.completion", created: 1, model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: "hello from intl" }, finish_reason: "stop" }] }) };
      } },
    });
    vllm.inject({ status: 503, times: 2 });
    const r = await post(h, chat({ stream: true }), {}, "/chat/v1/chat/completions");
    assert.equal(r.status, 200);
    assert.equal(header(r, "x-ai-served-by"), "qwen-dashscope; model=qwen-plus");
    assert.equal(header(r, "x-ai-fallback-from"), "vllm-llama");
    assert.ok(openAiStreamText(r.text).length > 0);
    assert.equal(qwen.requests[0].headers.host, "dashscope.aliyuncs.com");

    qwen.inject({ status: 500, times: 1 });
    const r2 = await post(h, chat(), {}, "/batch-chat/v1/chat/completions");
    assert.equal(r2.status, 200);
    assert.equal(header(r2, "x-ai-served-by"), "qwen-intl-compatible; model=qwen-plus");
    assert.equal(header(r2, "x-ai-fallback-tried"), "vllm-llama=503, qwen-dashscope=500");
    assert.equal(JSON.parse(r2.text).choices[0].message.content, "hello from intl");
    assert.deepEqual(intl.map((x) => [x.path, x.authorization, x.body.model]),
      [["/compatible-mode/v1/chat/completions", "Bearer sk-your-intl-key", "qwen-plus"]]);
  });
});
