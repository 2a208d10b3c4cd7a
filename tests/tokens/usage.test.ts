// shared/usage.ts on complete provider responses (tests/fixtures/usage/cases.json), fed as a
// gateway sees them: whole bodies, or SSE streams split into events. Also: mutated inputs
// never trap, and estimateChatPromptTokens against tiktoken's chat-format count.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Tiktoken } from "js-tiktoken/lite";
import o200k_base from "js-tiktoken/ranks/o200k_base";
import { samples } from "./samples.ts";
import { loadTokensWasm, TokensWasm, UsageFields } from "./wasm.ts";

const fixtures = fileURLToPath(new URL("../fixtures/usage/", import.meta.url));
const { cases } = JSON.parse(readFileSync(fixtures + "cases.json", "utf8")) as {
  cases: { file: string; doc: string; expect: Partial<UsageFields>; text?: string }[];
};
let wasm: TokensWasm;
before(() => { wasm = loadTokensWasm(); });

/** SSE events as [event name, data] (WHATWG event-stream parsing, without id/retry). */
function sseEvents(stream: string): [string, string][] {
  const events: [string, string][] = [];
  let name = "";
  let data: string[] = [];
  for (const line of stream.split(/\r\n|\r|\n/)) {
    if (line === "") {
      if (data.length) events.push([name, data.join("\n")]);
      name = "";
      data = [];
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  return events;
}

const read = (file: string) => readFileSync(fixtures + file, "utf8");

for (const c of cases) {
  test(`${c.file}: usage as documented (${c.doc.split(" ")[0]})`, () => {
    const got = c.file.endsWith(".sse") ? wasm.track(sseEvents(read(c.file))) : { usage: wasm.usageOf(read(c.file)), outputText: 0 };
    for (const [field, value] of Object.entries(c.expect)) assert.equal(got.usage[field as keyof UsageFields], value, field);
    if (c.text !== undefined) {
      wasm.setText(c.text);
      assert.equal(got.outputText, wasm.estimate(), "estimated streamed text");
    }
  });
}

test("replayed stream events do not add up: every format reports cumulative usage", () => {
  // The same events fed one by one and fed twice (a replayed chunk) give the same usage:
  // every format reports cumulative counts, so repeats must not add up.
  for (const c of cases.filter((k) => k.file.endsWith(".sse"))) {
    const events = sseEvents(read(c.file));
    const once = wasm.track(events).usage;
    const twice = wasm.track(events.flatMap((e) => [e, e])).usage;
    assert.deepEqual(twice, once, c.file);
  }
});

// Mutations of real bodies: cut short, a character changed, numbers made absurd, values of
// the wrong type, deep nesting. None may trap; counts stay -1 or within [0, 2^40].
test("mutated bodies and events never trap and never give out-of-range counts", () => {
  let seed = 1234;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const replacements = ["-1", "1e308", "-1e308", "18446744073709551616", "0.5", "\"7\"", "null", "true", "[]", "{}", "[[[[[[[[1]]]]]]]]"];
  const bodies = cases.flatMap((c) => c.file.endsWith(".sse") ? sseEvents(read(c.file)).map((e) => e[1]) : [read(c.file)]);
  const check = (u: UsageFields, what: string) => {
    for (const [k, v] of Object.entries(u)) assert.ok(v === -1 || (v >= 0 && v <= 2 ** 41), `${k}=${v} after ${what}`);
  };
  for (let round = 0; round < 3000; round++) {
    const body = bodies[rand(bodies.length)];
    let m: string;
    switch (rand(4)) {
      case 0: m = body.slice(0, rand(body.length + 1)); break;
      case 1: { const i = rand(body.length); m = body.slice(0, i) + String.fromCharCode(rand(0x10000)) + body.slice(i + 1); break; }
      case 2: m = body.replace(/\d+(\.\d+)?/g, (n) => (rand(3) === 0 ? replacements[rand(replacements.length)] : n)); break;
      default: m = body.replace(/\{"/, "{\"usage\":" + "[".repeat(rand(200)) + "1" + "]".repeat(rand(200)) + ",\""); break;
    }
    check(wasm.usageOf(m), JSON.stringify(m).slice(0, 200));
    check(wasm.track([["", m], ["message_delta", m]]).usage, JSON.stringify(m).slice(0, 200));
    assert.ok(wasm.chatPrompt(m) >= -1);
  }
});

// Reference: the OpenAI cookbook's chat-format count with o200k_base (3 tokens per message,
// the role and content tokens, 3 priming the reply) and the JSON text of tool definitions.
test("estimateChatPromptTokens is within 10% of tiktoken's chat-format count", () => {
  const enc = new Tiktoken(o200k_base);
  const texts = samples("heldout").filter((s) => s.kind !== "other").map((s) => s.text);
  const tool = {
    type: "function",
    function: {
      name: "lookup_quota", description: "Returns the remaining token quota of a consumer for the current window.",
      parameters: { type: "object", properties: { consumer: { type: "string", description: "Consumer name" }, window: { type: "string", enum: ["minute", "hour", "day"] } }, required: ["consumer"] },
    },
  };
  const errors: number[] = [];
  for (let i = 0; i + 2 < texts.length; i += 3) {
    const messages = [
      { role: "system", content: texts[i] },
      { role: "user", content: [{ type: "text", text: texts[i + 1] }] },
      { role: "assistant", content: texts[i + 2] },
    ];
    const withTools = i % 2 === 0;
    const body = { model: "gpt-4o", messages, ...(withTools ? { tools: [tool] } : {}) };
    let reference = 3;
    for (const m of messages) reference += 3 + enc.encode(m.role).length + enc.encode(typeof m.content === "string" ? m.content : m.content[0].text).length;
    if (withTools) reference += enc.encode(JSON.stringify(tool)).length;
    const estimate = wasm.chatPrompt(JSON.stringify(body));
    errors.push(Math.abs(estimate - reference) / reference);
    assert.ok(errors.at(-1)! < 0.1, `conversation ${i / 3}: estimate ${estimate}, reference ${reference}`);
  }
  assert.ok(errors.length >= 15, `${errors.length} conversations`);
});
