// Bad configurations are refused at configure time, naming the field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../../host/index.ts";
import { buildPlugin, WASM } from "./helpers.ts";

async function refusal(config: object): Promise<string> {
  buildPlugin();
  const host = new Host({ logLevel: "info" });
  try {
    await host.addPlugin({ name: "rl", wasm: WASM, config });
    return "";
  } catch {
    return host.logs("rl").map((e) => e.message).find((m) => m.includes("config error")) ?? "refused without a reason";
  } finally { host.close(); }
}

const cases: Array<[object, RegExp]> = [
  [{ global_threshold: { token_per_minute: 10 } }, /rule_name: is required/],
  [{ rule_name: "r" }, /rule_items: set rule_items or global_threshold/],
  [{ rule_name: "r", global_threshold: {} }, /global_threshold: needs one of token_per_second/],
  [{ rule_name: "r", global_threshold: { token_per_minute: 0 } }, /global_threshold\.token_per_minute: must be a positive integer/],
  [{ rule_name: "r", global_threshold: { query_per_hour: "10" } }, /global_threshold\.query_per_hour: must be a positive integer/],
  [{ rule_name: "r", rule_items: [{ limit_keys: [{ key: "a", token_per_minute: 1 }] }] }, /rule_items\[0\]: needs one of limit_by_header/],
  [{ rule_name: "r", rule_items: [{ limit_by_header: "x" }] }, /rule_items\[0\]\.limit_keys: must be a non-empty list/],
  [{ rule_name: "r", rule_items: [{ limit_by_header: "x", limit_keys: [{ token_per_minute: 1 }] }] }, /rule_items\[0\]\.limit_keys\[0\]\.key: is required/],
  [{ rule_name: "r", rule_items: [{ limit_by_per_header: "x", limit_keys: [{ key: "abc", token_per_minute: 1 }] }] }, /limit_keys\[0\]\.key: for limit_by_per_header must be "\*" or start with "regexp:"/],
  [{ rule_name: "r", rule_items: [{ limit_by_per_param: "k", limit_keys: [{ key: "regexp:(a", token_per_minute: 1 }] }] }, /limit_keys\[0\]\.key: bad regular expression: missing closing \)/],
  [{ rule_name: "r", rule_items: [{ limit_by_per_ip: "from-remote-addr", limit_keys: [{ key: "1.2.3.4/33", token_per_minute: 1 }] }] }, /limit_keys\[0\]\.key: must be an IP address or CIDR range/],
  [{ rule_name: "r", rule_items: [{ limit_by_per_ip: "x-forwarded-for", limit_keys: [{ key: "0.0.0.0/0", token_per_minute: 1 }] }] }, /rule_items\[0\]\.limit_by_per_ip: must be from-header-<name> or from-remote-addr/],
  [{ rule_name: "r", rule_items: [{ limit_by_header: "x", limit_keys: [{ key: "a" }] }] }, /rule_items\[0\]\.limit_keys\[0\]: needs one of token_per_second/],
  [{ rule_name: "r", rule_items: [{ limit_by_header: "x", limit_keys: [{ key: "a", token_per_minute: 1, limit_type: "bytes" }] }] }, /limit_keys\[0\]\.limit_type: must be "token" or "request"/],
  [{ rule_name: "r", global_threshold: { token_per_minute: 1 }, rejected_code: 1000 }, /rejected_code: must be an HTTP status/],
  [{ rule_name: "r", global_threshold: { token_per_minute: 1 }, redis: {} }, /redis\.service_name: is required/],
  [{ rule_name: "r", global_threshold: { token_per_minute: 1 }, redis: { service_name: "r.dns", service_port: 70000 } }, /redis\.service_port: must be a port number/],
  [{ rule_name: "r", global_threshold: { token_per_minute: 1 }, failure_policy: "maybe" }, /failure_policy: must be "open" or "closed"/],
  [{ rule_name: "r", global_threshold: { token_per_minute: 1 }, show_limit_quota_header: "yes" }, /show_limit_quota_header: must be true or false/],
  [{ _rules_: [{ _match_route_: ["a"], rule_name: "x", rule_items: [{ limit_by_header: "h", limit_keys: [] }] }] }, /_rules_\[0\]\.rule_items\[0\]\.limit_keys: must be a non-empty list/],
];

for (const [config, why] of cases) {
  test(`refuses ${JSON.stringify(config)}`, async () => {
    assert.match(await refusal(config), why);
  });
}

test("accepts a minimal config", async () => {
  assert.equal(await refusal({ rule_name: "r", global_threshold: { token_per_minute: 1 } }), "");
});
