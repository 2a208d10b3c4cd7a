// The gateway itself: `npm start`'s process (banner, access lines, metrics, clean exit), configuration
// errors that name file, line and field, real upstreams (an https provider with the key from the
// environment), and Redis cluster mode shared by two gateways.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { RedisServer } from "../support/redis.ts";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigFileError, parseConfig } from "../../host/gateway/config.ts";
import { DEFAULT_CONFIG, startGateway } from "../../host/gateway/gateway.ts";
import { DIFY_AGENT, buildPlugins, startDemo } from "./helpers.ts";

const DEFAULT_TEXT = readFileSync(DEFAULT_CONFIG, "utf8");
const tmp = mkdtempSync(join(tmpdir(), "gateway-test-"));

before(() => buildPlugins());

interface Proc { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> }

/** Runs the gateway's entry (what `npm start` runs after building). */
function gatewayProcess(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", "host/gateway/main.ts", ...args], {
    env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => { out += d; });
  child.stderr!.on("data", (d) => { err += d; });
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function until(what: string, f: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !f(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

test("npm start's process: banner with routes, plugins and curl lines; one access line per request; metrics; exits on SIGTERM", async () => {
  const p = gatewayProcess(["--port", "0"]);
  try {
    await until("the banner", () => /Metrics: curl (\S+)\/stats\/prometheus/.test(p.out()) || p.child.exitCode !== null);
    const url = /Metrics: curl (\S+)\/stats\/prometheus/.exec(p.out())![1];
    for (const prefix of ["/agent/v1/chat/completions", "/agent", "/claude", "/dify/", "/vllm/"]) assert.ok(p.out().includes(`  ${prefix} `), prefix);
    assert.match(p.out(), /plugins: hmac-auth -> ai-token-ratelimit -> ai-fallback -> ai-proxy\n/);
    assert.match(p.out(), /plugins: hmac-auth \(default config\) -> ai-token-ratelimit\n/);
    assert.match(p.out(), /plugins: .*ai-load-balancer/);
    // The printed vLLM curl works as printed (minus the shell quoting).
    const line = p.out().split("\n").find((l) => l.includes("/vllm/v1/chat/completions"))!;
    const body = /-d '(.*)'$/.exec(line)![1];
    const res = await fetch(`${url}/vllm/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal(res.status, 200);
    const answer = await res.json() as { usage: { prompt_tokens: number; completion_tokens: number } };
    await until("the access line", () => p.out().includes("route=higress-system/vllm"));
    const access = p.out().split("\n").find((l) => l.includes("route=higress-system/vllm"))!;
    assert.match(access, /POST \/vllm\/v1\/chat\/completions route=higress-system\/vllm status=200 model=meta-llama\/Llama-3\.1-8B-Instruct consumer=- /);
    assert.ok(access.includes(` tokens=${answer.usage.prompt_tokens}/${answer.usage.completion_tokens} `), access);
    assert.match(access, / first_token=\d+ms total=\d+ms fallback=- upstream=outbound\|8000\|\|vllm\.dns\/127\.0\.0\.1:\d+/);
    const metrics = await (await fetch(`${url}/stats/prometheus`)).text();
    assert.match(metrics, /^gateway_requests_total\{route="higress-system\/vllm",status="200"\} 1$/m);
    assert.match(metrics, /^ai_load_balancer_decisions\{\} 1$/m);
    p.child.kill("SIGTERM");
    assert.equal(await p.exit, 0);
  } finally {
    p.child.kill("SIGKILL");
  }
});

test("a bad config file: the process names file, line and field, and exits 2", async () => {
  const file = join(tmp, "bad-phase.yaml");
  writeFileSync(file, DEFAULT_TEXT.replace("phase: AUTHN", "phase: AUTH"));
  const p = gatewayProcess(["--config", file, "--port", "0"]);
  assert.equal(await p.exit, 2);
  const line = DEFAULT_TEXT.split("\n").findIndex((l) => l.includes("phase: AUTHN")) + 1;
  assert.equal(p.err().trim(), `configuration error: ${file}:${line}: WasmPlugin hmac-auth spec.phase: must be one of AUTHN, AUTHZ, STATS, UNSPECIFIED_PHASE`);
  assert.equal(p.out(), "");
});

/** The error loading a variant of the default file, as the gateway reports it. */
async function configError(edit: (text: string) => string, env: Record<string, string> = {}): Promise<ConfigFileError> {
  try {
    await startGateway({ config: parseConfig(edit(DEFAULT_TEXT), "gw.yaml", env), port: 0, accessLog: null, printLogs: false });
  } catch (e) {
    if (e instanceof ConfigFileError) return e;
    throw e;
  }
  throw new Error("the config was accepted");
}

const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

test("config errors: YAML syntax, unknown fields, dangling names, missing environment variables", async () => {
  let e = await configError((t) => t.replace("workers: 2", "workers: [2"));
  assert.equal(e.file, "gw.yaml");
  assert.equal(e.field, "YAML");

  e = await configError((t) => t.replace("  workers: 2", "  workerz: 2"));
  assert.equal(e.message, `gw.yaml:${lineOf(DEFAULT_TEXT, "workers: 2")}: Gateway local spec.workerz: unknown field (known: namespace, port, workers, redis, clusters, routes)`);

  e = await configError((t) => t.replace("cluster: outbound|8080||anthropic.dns", "cluster: outbound|8080||antropic.dns"));
  assert.equal(e.field, "Gateway local spec.routes[2].cluster");
  assert.match(e.why, /^no cluster named outbound\|8080\|\|antropic\.dns/);

  e = await configError((t) => t.replace("ingress: [higress-system/vllm]", "ingress: [higress-system/vlm]"));
  assert.equal(e.field, "WasmPlugin ai-load-balancer spec.matchRules[0].ingress[0]");
  assert.equal(e.line, lineOf(DEFAULT_TEXT, "ingress: [higress-system/vllm]"));

  e = await configError((t) => t.replace("${OPENAI_API_KEY:-sk-sim-openai}\n", "${OPENAI_API_KEY}\n"));
  assert.equal(e.field, "WasmPlugin ai-fallback spec.matchRules[0].config.fallbacks[0].headers.authorization");
  assert.match(e.why, /environment variable OPENAI_API_KEY is not set/);
  // ...and the same file loads once the variable is there.
  const ok = parseConfig(DEFAULT_TEXT.replace("${OPENAI_API_KEY:-sk-sim-openai}\n", "${OPENAI_API_KEY}\n"), "gw.yaml", { OPENAI_API_KEY: "sk-x" });
  assert.equal((ok.plugins.find((p) => p.name === "ai-fallback")!.matchRules[0].config as any).fallbacks[0].headers.authorization, "Bearer sk-x");
});

test("config errors the plugin finds are reported at the WasmPlugin field that holds them", async () => {
  const e = await configError((t) => t.replace("type: claude", "type: clod"));
  assert.equal(e.field, "WasmPlugin ai-proxy spec.matchRules[1].config.provider.type");
  assert.equal(e.line, lineOf(DEFAULT_TEXT, "type: claude"));
  assert.equal(e.why, "must be openai, qwen or claude");

  const e2 = await configError((t) => t.replace("lb_policy: prefix_cache", "lb_policy: fastest"));
  assert.equal(e2.field, "WasmPlugin ai-load-balancer spec.matchRules[0].config.lb_policy");
  assert.match(e2.why, /unknown policy/);
});

// ---------------------------------------------------------------- real upstreams

test("--upstreams real: an https provider from the environment, with its key, and its own Host", async () => {
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
    "-keyout", join(tmp, "key.pem"), "-out", join(tmp, "cert.pem"), "-days", "1"], { stdio: "ignore" });
  const seen: Array<{ path: string; host?: string; auth?: string; body: any }> = [];
  const provider = https.createServer({ key: readFileSync(join(tmp, "key.pem")), cert: readFileSync(join(tmp, "cert.pem")) }, (req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      seen.push({ path: req.url!, host: req.headers.host, auth: req.headers.authorization, body: JSON.parse(body) });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ output: { embeddings: [{ text_index: 0, embedding: [0.6, 0.8] }] }, usage: { total_tokens: 3 }, request_id: "r1" }));
    });
  });
  await new Promise<void>((r) => provider.listen(0, "127.0.0.1", r));
  const port = (provider.address() as net.AddressInfo).port;
  const p = gatewayProcess(["--port", "0", "--upstreams", "real"], {
    DASHSCOPE_BASE_URL: `https://localhost:${port}`, DASHSCOPE_API_KEY: "sk-real-dashscope", NODE_EXTRA_CA_CERTS: join(tmp, "cert.pem"),
  });
  try {
    await until("the banner", () => /Metrics: curl (\S+)\/stats\/prometheus/.test(p.out()) || p.child.exitCode !== null);
    const url = /Metrics: curl (\S+)\/stats\/prometheus/.exec(p.out())![1];
    assert.match(p.out(), new RegExp(`outbound\\|8080\\|\\|dashscope\\.dns: https://localhost:${port}`));
    const res = await fetch(`${url}/agent/v1/embeddings`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${DIFY_AGENT.apiKey}` },
      body: JSON.stringify({ model: "text-embedding-v3", input: "hello" }),
    });
    assert.equal(res.status, 200);
    const body = await res.json() as any;
    assert.deepEqual(body.data[0].embedding, [0.6, 0.8]);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].path, "/api/v1/services/embeddings/text-embedding/text-embedding");
    assert.equal(seen[0].auth, "Bearer sk-real-dashscope");
    assert.equal(seen[0].host, "localhost");
  } finally {
    p.child.kill("SIGKILL");
    provider.close();
  }
});

// ---------------------------------------------------------------- Redis cluster mode

test("--redis: two gateways share the per-app limit through Redis; the balancer keeps its prefix index there", async () => {
  const redis = await RedisServer.start();
  const a = await startDemo(undefined, { redis: `127.0.0.1:${redis.port}` });
  const b = await startDemo(undefined, { redis: `127.0.0.1:${redis.port}` });
  try {
    const ask = (url: string) => fetch(`${url}/dify/v1/chat-messages`, {
      method: "POST", headers: { authorization: "Bearer app-support-bot", "x-app-id": "app-support-bot", "content-type": "application/json" },
      body: JSON.stringify({ inputs: {}, query: "hi", response_mode: "blocking", user: "u" }),
    });
    assert.equal((await ask(a.url)).status, 200);
    assert.equal((await ask(b.url)).status, 429, "gateway b sees gateway a's request");
    const chat = (url: string) => fetch(`${url}/vllm/v1/chat/completions`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "meta-llama/Llama-3.1-8B-Instruct", max_tokens: 4, messages: [{ role: "user", content: "a prompt long enough to fill prefix blocks. ".repeat(40) }] }),
    });
    assert.equal((await chat(a.url)).status, 200);
    assert.equal((await chat(b.url)).status, 200);
    const keys = execFileSync("redis-cli", ["-p", String(redis.port), "--scan"], { encoding: "utf8" });
    assert.match(keys, /^ai-token-ratelimit:\{dify-apps\}:limit_by_per_header:x-app-id:app-support-bot:query:60$/m);
    assert.match(keys, /^ai-lb:\{higress-system\/vllm\|outbound\|8000\|\|vllm\.dns\}:/m, "the prefix index lives in Redis");
  } finally {
    await a.close();
    await b.close();
    await redis.down();
  }
});
