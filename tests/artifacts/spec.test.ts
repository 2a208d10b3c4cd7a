// The plugins' Higress artifacts: each console spec.yaml is well formed and agrees with the plugin's
// WasmPlugin manifest; its examples are valid by its own schema and accepted by the plugin; and a set
// of valid and invalid configs (cases/<plugin>.yaml) is judged the same way by the schema (ajv) and by
// the plugin configured in the host.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../host/gateway/config.ts";
import { pluginConfig } from "../../host/gateway/plugins.ts";
import { PLUGINS, consoleSpec, pluginFile, pluginVerdict, readYaml, schemaVerdict, withRouteRule } from "./helpers.ts";

/** Higress console's phase and priority for the plugins it ships (hmac-auth AUTHN/330, ...); ai-fallback is ours. */
const CONSOLE_ORDER: Record<string, { phase: string; priority: number }> = {
  "hmac-auth": { phase: "AUTHN", priority: 330 },
  "ai-token-ratelimit": { phase: "default", priority: 600 },
  "ai-proxy": { phase: "default", priority: 100 },
  "ai-load-balancer": { phase: "default", priority: 50 },
};

interface Case { name: string; config: Record<string, unknown> }
interface Cases { valid: Case[]; invalid: Case[]; route_base?: Record<string, unknown>; route_valid?: Case[]; route_invalid?: Case[] }

/** The manifest as the gateway reads WasmPlugin documents (all fields checked), with a Gateway naming its routes. */
function manifest(name: string) {
  const text = readFileSync(pluginFile(name, "wasmplugin.yaml"), "utf8");
  const ingress = new Set<string>();
  for (const m of readYaml(pluginFile(name, "wasmplugin.yaml")).spec.matchRules ?? []) for (const i of m.ingress ?? []) ingress.add(i);
  const namespaces = new Set([...ingress].map((i) => i.split("/")[0]));
  assert.ok(namespaces.size <= 1, `${name}: matchRules name routes of one namespace`);
  const ns = [...namespaces][0] ?? "higress-system";
  const gateway = `---\napiVersion: gateway.higress-ai.local/v1\nkind: Gateway\nspec:\n  namespace: ${ns}\n  clusters: [{ name: c, url: "http://127.0.0.1:9" }]\n` +
    `  routes:\n${[...ingress, `${ns}/unused`].map((i) => `    - { name: ${i.split("/")[1]}, cluster: c }`).join("\n")}\n`;
  return parseConfig(text + gateway, `plugins/${name}/wasmplugin.yaml`, {}).plugins[0];
}

for (const name of PLUGINS) {
  describe(name, () => {
    const spec = consoleSpec(name);
    const schema = spec.spec.configSchema.openAPIV3Schema;
    const routeSchema = spec.spec.routeConfigSchema?.openAPIV3Schema;

    test("spec.yaml: console metadata, phase and priority as the manifest and the console", () => {
      assert.equal(spec.apiVersion, "1.0.0");
      assert.equal(spec.info.name, name);
      assert.equal(spec.info.image, `platform_wasm/${name}`);
      assert.match(spec.info.version, /^\d+\.\d+\.\d+$/);
      for (const k of ["category", "title", "description"]) assert.ok(typeof spec.info[k] === "string" && spec.info[k].length > 0, k);
      assert.equal(schema.type, "object");
      const m = manifest(name);
      assert.equal(m.url, `file:///opt/plugins/${name}.wasm`);
      assert.equal(spec.spec.phase === "default" ? "UNSPECIFIED_PHASE" : spec.spec.phase, m.phase);
      assert.equal(spec.spec.priority, m.priority);
      const console = CONSOLE_ORDER[name];
      if (console) assert.deepEqual({ phase: spec.spec.phase, priority: spec.spec.priority }, console);
    });

    test("wasmplugin.yaml: the plugin accepts the configuration Higress would hand it", async () => {
      assert.equal(await pluginVerdict(name, pluginConfig(manifest(name))), null);
    });

    test("examples: valid by the schema and accepted by the plugin", async () => {
      const example = schema.example;
      assert.ok(example && typeof example === "object", "configSchema has an example");
      assert.equal(schemaVerdict(schema, example), null);
      assert.equal(await pluginVerdict(name, example), null);
      if (routeSchema?.example && routeSchema !== schema) {
        assert.equal(schemaVerdict(routeSchema, routeSchema.example), null);
        assert.equal(await pluginVerdict(name, withRouteRule(example, routeSchema.example)), null);
      }
    });

    const cases: Cases = readYaml(join(import.meta.dirname, "cases", `${name}.yaml`));
    const judge = async (kind: "valid" | "invalid", c: Case, route: boolean) => {
      const bySchema = schemaVerdict(route ? routeSchema! : schema, c.config);
      const byPlugin = await pluginVerdict(name, route ? withRouteRule(cases.route_base ?? {}, c.config) : c.config);
      const want = kind === "valid";
      assert.equal(bySchema === null, want, `schema: ${bySchema ?? "accepted"}`);
      assert.equal(byPlugin === null, want, `plugin: ${byPlugin ?? "accepted"}`);
    };
    for (const kind of ["valid", "invalid"] as const) {
      for (const c of cases[kind]) test(`${kind}: ${c.name}`, () => judge(kind, c, false));
      for (const c of cases[`route_${kind}`] ?? []) test(`route ${kind}: ${c.name}`, () => judge(kind, c, true));
    }
  });
}
