// ai-token-ratelimit on an event stream whose event never ends (no blank line for megabytes): the
// plugin must pass it on without holding it all (an unbounded buffer ends in an out-of-memory abort
// that kills the VM), then read the events after it as usual.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setup, post, chat } from "./helpers.ts";
import type { UpstreamRequest, UpstreamResponse } from "../../host/index.ts";

const LONG = 12 << 20;          // over the filter's 8 MiB event limit
const STEP = 256 << 10;

test("an endless SSE event is passed on, the VM survives and the usage after it still counts", async () => {
  const usage = { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 };
  const handler = (_req: UpstreamRequest): UpstreamResponse => {
    async function* gen() {
      yield "data: ";
      const filler = "a".repeat(STEP);
      for (let sent = 0; sent < LONG; sent += STEP) yield filler;
      yield "\n\n";
      yield `data: ${JSON.stringify({ id: "x", choices: [{ index: 0, delta: { content: "hi" } }], usage: null })}\n\n`;
      yield `data: ${JSON.stringify({ id: "x", choices: [], usage })}\n\n`;
      yield "data: [DONE]\n\n";
    }
    return { status: 200, headers: { "content-type": "text/event-stream" }, body: gen() };
  };
  const { host } = await setup({ rule_name: "r", global_threshold: { token_per_minute: 100000 } }, { handler });
  const r = await post(host, chat("hello", { stream: true }));
  assert.equal(r.status, 200);
  assert.equal(host.trapCount(), 0);
  const text = r.body.toString();
  assert.ok(text.startsWith("data: aaaa"));
  assert.equal(text.length, 6 + LONG + 2 + "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n".length + "data: [DONE]\n\n".length);
  assert.ok(text.endsWith("{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"), "usage:null and the injected usage chunk are still hidden");
  // The VM still serves requests.
  assert.equal((await post(host, chat("again"))).status, 200);
  assert.equal(host.trapCount(), 0);
  host.close();
});
