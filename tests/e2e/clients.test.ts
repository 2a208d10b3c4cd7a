// The real `openai` and `@anthropic-ai/sdk` clients against the gateway's /claude route (ai-proxy with
// the claude provider, simulated Anthropic upstream): OpenAI's protocol is translated, Anthropic's own
// passes with the gateway's key.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { type Demo, startDemo } from "./helpers.ts";

let demo: Demo;
before(async () => { demo = await startDemo(); });
after(() => demo.close());

const anthropicSim = () => demo.sims("anthropic")[0];

test("openai client → Anthropic Messages upstream, answer and stream translated back", async () => {
  const client = new OpenAI({ baseURL: `${demo.url}/claude/v1`, apiKey: "client-key-is-replaced", maxRetries: 0 });
  const before = anthropicSim().requests.length;
  const res = await client.chat.completions.create({
    model: "claude-3-5-haiku-latest", max_tokens: 40, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }],
  });
  assert.equal(res.object, "chat.completion");
  assert.ok(res.choices[0].message.content!.length > 0);
  assert.ok(res.usage!.completion_tokens > 0 && res.usage!.completion_tokens <= 40);
  const up = anthropicSim().requests.slice(before);
  assert.equal(up[0].path, "/v1/messages");
  assert.equal(up[0].headers["x-api-key"], "sk-sim-anthropic");
  const system = up[0].body.system;   // a string or text blocks, both Anthropic's
  assert.equal(typeof system === "string" ? system : system.map((b: { text: string }) => b.text).join(""), "Be brief.");
  assert.equal(up[0].body.max_tokens, 40);

  const stream = await client.chat.completions.create({ model: "claude-3-5-haiku-latest", stream: true, messages: [{ role: "user", content: "Count to three" }] });
  let text = "";
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.ok(text.length > 0);
  assert.equal(finish, "stop");
});

test("@anthropic-ai/sdk → the same route in Anthropic's own protocol, streaming events intact", async () => {
  const client = new Anthropic({ baseURL: `${demo.url}/claude`, apiKey: "client-key-is-replaced", maxRetries: 0 });
  const msg = await client.messages.create({ model: "claude-3-5-haiku-latest", max_tokens: 32, messages: [{ role: "user", content: "Hi" }] });
  assert.equal(msg.type, "message");
  assert.ok(msg.content[0].type === "text" && msg.content[0].text.length > 0);
  assert.equal(anthropicSim().requests.at(-1)!.headers["x-api-key"], "sk-sim-anthropic");

  const stream = client.messages.stream({ model: "claude-3-5-haiku-latest", max_tokens: 32, messages: [{ role: "user", content: "Tell me a story" }] });
  const final = await stream.finalMessage();
  assert.ok(final.usage.output_tokens > 0);
  const rec = await demo.record((r) => r.path === "/claude/v1/messages" && r.tokensOut === final.usage.output_tokens);
  assert.equal(rec.route, "higress-system/claude");
  assert.ok(rec.firstByteMs !== null && rec.firstByteMs <= rec.durationMs + 1);   // the host clock has ~1 ms jitter
});
