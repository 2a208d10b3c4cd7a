// Golden tests of the translators: every API row in every direction, from the providers' documented
// shapes (tests/fixtures/ai-proxy/*.ts cite the docs), including streams split at every byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadHarness } from "./harness.mjs";
import { allCases } from "../fixtures/ai-proxy/index.ts";
import type { GoldenCase } from "../fixtures/ai-proxy/types.ts";
import { assembleAnthropic, assembleDashScope, assembleOpenAI } from "./reassemble.ts";

const h: any = await loadHarness();
const PROVIDER = { openai: 0, anthropic: 1, dashscope: 2 } as const;

function clientOf(path: string): "openai" | "anthropic" | "dashscope" {
  if (path.endsWith("/v1/messages")) return "anthropic";
  return path.includes("/api/v1/services/") ? "dashscope" : "openai";
}

function start(c: GoldenCase): any {
  return JSON.parse(h.request(c.path, PROVIDER[c.provider], JSON.stringify(c.request), !!c.streamHeader));
}

function runStream(c: GoldenCase, parts: Uint8Array[]): string {
  start(c);
  let out = "";
  for (const p of parts) out += h.streamFeed(p.slice().buffer);
  return out + h.streamFinish();
}

for (const c of allCases) {
  test(c.name, () => {
    const r = start(c);
    if ("error" in c.expectRequest) {
      assert.ok(r.error, "expected a request error");
      assert.match(r.error, new RegExp(c.expectRequest.error));
      return;
    }
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.path, c.expectRequest.path);
    assert.deepEqual(r.body, c.expectRequest.body);
    assert.deepEqual([...r.dropped].sort(), [...c.expectRequest.dropped].sort(), "dropped fields");
    assert.deepEqual(r.defaulted, c.expectRequest.defaulted ?? [], "defaulted fields");

    if (c.response !== undefined) {
      const out = h.response(JSON.stringify(c.response));
      assert.deepEqual(JSON.parse(out), c.expectResponse);
    }
    if (c.error) {
      const e = JSON.parse(h.error(c.error.status, c.error.body));
      assert.equal(e.status, c.expectError!.status);
      assert.deepEqual(JSON.parse(e.body), c.expectError!.body);
    }
    if (c.stream !== undefined) {
      const bytes = new TextEncoder().encode(c.stream);
      const whole = runStream(c, [bytes]);
      if (c.expectStreamText !== undefined) assert.equal(whole, c.expectStreamText);
      const client = clientOf(c.path);
      const incremental = r.body?.parameters?.incremental_output ?? (c.request as any)?.parameters?.incremental_output ?? false;
      const a = client === "openai" ? assembleOpenAI(whole) : client === "anthropic" ? assembleAnthropic(whole) : assembleDashScope(whole, incremental);
      assert.ok(a.terminated, "client stream is terminated");
      assert.equal(a.error, null);
      if (c.expectStream) {
        assert.equal(a.content, c.expectStream.content);
        assert.equal(a.reasoning, c.expectStream.reasoning);
        assert.deepEqual(a.tools, c.expectStream.tools);
        assert.equal(a.finish, c.expectStream.finish);
        assert.deepEqual(a.usage, c.expectStream.usage);
      }
      // Byte-at-a-time and every two-way split give the same client text.
      assert.equal(runStream(c, Array.from(bytes, (b) => Uint8Array.of(b))), whole, "fed one byte at a time");
      if (c.splitEveryByte) {
        for (let i = 1; i < bytes.length; i++) {
          const got = runStream(c, [bytes.subarray(0, i), bytes.subarray(i)]);
          if (got !== whole) assert.equal(got, whole, `split at byte ${i}`);
        }
      }
    }
  });
}
