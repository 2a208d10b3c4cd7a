// docker-compose.yaml cannot run here; what can be checked without Docker is: every path it mounts or
// builds from exists after a build, the Higress data it mounts is what gateway.yaml exports (and the
// plugins accept it), every WasmPlugin's file:// URL is a mounted .wasm, every registry resolves a
// compose service, and gateway.yaml orders the plugins as their manifests do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { DEFAULT_CONFIG, REPO_ROOT, loadConfigFile, parseConfig } from "../../host/gateway/config.ts";
import { higressResources, registryOf, renderResource } from "../../host/gateway/higress.ts";
import { pluginConfig } from "../../host/gateway/plugins.ts";
import { PLUGINS, pluginFile, pluginVerdict, readYaml } from "./helpers.ts";
import { buildPlugins } from "../e2e/helpers.ts";

// Compose applies YAML merge keys (<<: *simulator).
const compose = parse(readFileSync(join(REPO_ROOT, "docker-compose.yaml"), "utf8"), { merge: true });
const DATA = join(REPO_ROOT, "e2e/compose/data");
const services: Record<string, any> = compose.services;

/** Bind mounts of a service as [host path (absolute), container path]. */
function binds(service: any): Array<[string, string]> {
  return (service.volumes ?? []).filter((v: string) => v.startsWith("./"))
    .map((v: string) => { const [src, dst] = v.split(":"); return [join(REPO_ROOT, src), dst] as [string, string]; });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

test("every bind-mounted path exists after the build", () => {
  buildPlugins();
  const all = Object.values(services).flatMap(binds);
  assert.ok(all.length >= PLUGINS.length * 2);
  for (const [src] of all) assert.ok(existsSync(src), `${relative(REPO_ROOT, src)} is mounted but missing`);
});

test("the simulator image builds from paths that exist, and each simulator service is a simulated cluster", () => {
  const sims = Object.entries(services).filter(([, s]) => s.build);
  assert.deepEqual(sims.map(([n]) => n).sort(), ["anthropic", "dashscope", "dify", "openai", "vllm"]);
  const config = loadConfigFile(DEFAULT_CONFIG, { env: {} });
  for (const [name, s] of sims) {
    const dockerfile = join(REPO_ROOT, s.build.context, s.build.dockerfile);
    for (const m of readFileSync(dockerfile, "utf8").matchAll(/^COPY (.+) \S+$/gm)) {
      for (const src of m[1].split(/\s+/)) assert.ok(existsSync(join(REPO_ROOT, s.build.context, src)), `${src} copied by ${s.build.dockerfile}`);
    }
    assert.deepEqual(s.command, [name]);
    const cluster = config.clusters.find((c) => registryOf(c.name)?.name === name);
    assert.ok(cluster?.simulator, `gateway.yaml has a simulated cluster outbound|<port>||${name}.dns`);
  }
  assert.equal(services.vllm.deploy.replicas, config.clusters.find((c) => c.name.endsWith("||vllm.dns"))!.simulator!.replicas);
});

test("the simulator containers' entry serves the cluster named on its command line, with gateway.yaml's options", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "e2e/compose/sim.ts", "dify"], { cwd: REPO_ROOT, env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d) => { out += d; const m = /on :(\d+)/.exec(out); if (m) resolve(Number(m[1])); });
      child.on("exit", (code) => reject(new Error(`sim.ts exited with ${code}`)));
    });
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat-messages`, {
      method: "POST", headers: { authorization: "Bearer app-support-bot", "content-type": "application/json" },
      body: JSON.stringify({ inputs: {}, query: "hi", response_mode: "blocking", user: "u" }),
    });
    assert.equal(res.status, 200, "the app key configured in gateway.yaml is served");
  } finally {
    child.kill("SIGKILL");
  }
});

test("the mounted Higress data is exactly what gateway.yaml exports (npm start -- export-higress e2e/compose/data)", () => {
  const expected = higressResources(loadConfigFile(DEFAULT_CONFIG, { env: {} }));
  const onDisk = filesUnder(DATA).map((f) => relative(DATA, f)).sort();
  assert.deepEqual(onDisk, [...expected.keys()].sort(), "no stale or missing files");
  for (const [path, res] of expected) {
    assert.equal(readFileSync(join(DATA, path), "utf8"), renderResource(res, "gateway.yaml"), `${path} is out of date: re-export`);
  }
  const mounted = new Map(binds(services.higress).map(([src, dst]) => [relative(DATA, src), dst]));
  for (const path of expected.keys()) assert.equal(mounted.get(path), `/data/${path}`, `${path} is mounted where the all-in-one image reads it`);
});

test("each WasmPlugin loads a mounted .wasm through file://, and its plugin accepts the exported configuration", async () => {
  const wasm = new Map(binds(services.higress).filter(([, dst]) => dst.endsWith(".wasm")).map(([src, dst]) => [dst, src]));
  const docs = filesUnder(join(DATA, "wasmplugins")).map((f) => readFileSync(f, "utf8"));
  // The exported documents with gateway.yaml's own Gateway document, read as the gateway reads files.
  const gatewayDoc = parseAllDocuments(readFileSync(DEFAULT_CONFIG, "utf8")).map((d) => d.toJS()).find((d) => d?.kind === "Gateway");
  const config = parseConfig([...docs, JSON.stringify(gatewayDoc)].join("\n---\n"), "e2e/compose/data", {});
  assert.equal(config.plugins.length, PLUGINS.length);
  for (const p of config.plugins) {
    const file = p.url.replace("file://", "");
    assert.equal(wasm.get(file), join(REPO_ROOT, "dist", `${p.name}.wasm`), `${p.url} is dist/${p.name}.wasm`);
    assert.equal(await pluginVerdict(p.name, pluginConfig(p)), null, `${p.name} accepts its compose configuration`);
  }
  const redisUsers = config.plugins.filter((p) => JSON.stringify(p).includes("redis.dns"));
  assert.deepEqual(redisUsers.map((p) => p.name).sort(), ["ai-load-balancer", "ai-token-ratelimit", "hmac-auth"], "cluster mode in compose");
});

test("every McpBridge registry resolves a compose service on the port the cluster names", () => {
  const bridge = readYaml(join(DATA, "mcpbridges/default.yaml"));
  for (const r of bridge.spec.registries) {
    assert.equal(r.type, "dns");
    assert.ok(services[r.domain], `registry ${r.name} resolves "${r.domain}", a compose service`);
  }
  for (const file of filesUnder(join(DATA, "ingresses"))) {
    const dest = readYaml(file).metadata.annotations["higress.io/destination"];
    const [svc, port] = dest.split(":");
    assert.ok(bridge.spec.registries.some((r: any) => `${r.name}.${r.type}` === svc && String(r.port) === port), `${relative(DATA, file)} → ${dest}`);
  }
});

test("gateway.yaml runs each plugin with the phase, priority and fail strategy of its manifest", () => {
  const config = loadConfigFile(DEFAULT_CONFIG, { env: {} });
  for (const name of PLUGINS) {
    const m = readYaml(pluginFile(name, "wasmplugin.yaml")).spec;
    const p = config.plugins.find((x) => x.name === name)!;
    assert.ok(p, `gateway.yaml has ${name}`);
    assert.deepEqual(
      { url: p.url, phase: p.phase, priority: p.priority, failStrategy: p.failStrategy },
      { url: m.url, phase: m.phase ?? "UNSPECIFIED_PHASE", priority: m.priority, failStrategy: m.failStrategy ?? "FAIL_CLOSE" },
      name,
    );
  }
});
