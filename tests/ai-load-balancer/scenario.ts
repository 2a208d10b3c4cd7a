// The prefix_cache scoring rule, played through the plugin in a host: loads are built with held
// requests while only one endpoint is healthy, then probes must land where the documented score
// says. Run in local mode (policies.test.ts) and cluster mode (cluster.test.ts): both implementations
// of the rule (AssemblyScript and the Redis Lua script) must give these answers.
import assert from "node:assert/strict";
import type { Host } from "../../host/index.ts";
import { CLUSTER, chat, post, until, type scriptedUpstream } from "./harness.ts";

export const EPS = ["10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"];
const [A, B, C] = EPS;

/** `bytes` bytes of text that is reproducible from `seed`. */
export function filler(seed: number, bytes: number): string {
  let s = "";
  let x = seed * 2654435761 >>> 0;
  while (s.length < bytes) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += "word" + (x % 9973).toString(36) + " ";
  }
  return s.slice(0, bytes);
}

function only(host: Host, healthy: string[]): void {
  for (const e of EPS) host.setEndpointHealth(CLUSTER, e, healthy.includes(e));
}

/**
 * With the defaults (256-byte blocks = 64 tokens, 256 tokens per in-flight request, hot-spot margin 2,
 * factor 1.25), checks six decisions and returns the pending responses (release the upstream, then await).
 */
export async function scoringScenario(host: Host, up: ReturnType<typeof scriptedUpstream>) {
  up.hold();
  const pending: Array<Promise<unknown>> = [];
  const send = async (messages: Array<{ role: string; content: string }>) => {
    const before = up.seen.length;
    const r = post(host, chat(messages));
    pending.push(r);
    await until(() => up.seen.length > before, "the upstream to receive the request");
    return up.seen[up.seen.length - 1].endpoint;
  };
  const p1 = { role: "user", content: filler(1, 5120) };        // 20 blocks
  const p2 = { role: "user", content: filler(2, 2048) };        // 8 blocks
  const more = (n: number) => [{ role: "assistant", content: "ok" }, { role: "user", content: `follow-up ${n} ` + filler(100 + n, 600) }];

  // Loads: A runs p1 (1 request); B runs two unrelated requests and p2 (3 requests); C nothing.
  only(host, [A]);
  assert.equal(await send([p1]), A);
  only(host, [B]);
  assert.equal(await send([{ role: "user", content: filler(3, 900) }]), B);
  assert.equal(await send([{ role: "user", content: filler(4, 900) }]), B);
  assert.equal(await send([p2]), B);
  only(host, EPS);

  // A holds p1's 20 blocks (1280 tokens) at load 1: 1280 - 256 beats C's 0 and B's -768.
  assert.equal(await send([p1, ...more(1)]), A, "the long cached prefix wins over a light load");
  // B holds p2's 8 blocks at load 3: 512 - 768 < 0 = C at load 0.
  assert.equal(await send([p2, ...more(2)]), C, "the load outweighs a short prefix");
  // A (load 2, then 3) is within the margin of 2 above the least loaded (C, 1): still A.
  assert.equal(await send([p1, ...more(3)]), A);
  assert.equal(await send([p1, ...more(4)]), A);
  // A at 4 is 3 above C: the hot-spot guard excludes it; C (-256) beats B (-768).
  assert.equal(await send([p1, ...more(5)]), C, "hot-spot guard diverts the hot prefix");
  // Now C holds this very prompt (and p1) at load 2; A holds p1 at load 4: C.
  assert.equal(await send([p1, ...more(5)]), C, "the diverted prefix is cached on its new host");
  return pending;
}
