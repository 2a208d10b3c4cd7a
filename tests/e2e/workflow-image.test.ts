// Seed demo 2, workflow image generation: a Dify workflow's LLM node uses the Higress plugin's image
// model (llm_usage_scenario image_generation): the prompt goes out in DashScope's multimodal-generation
// protocol through the gateway, the image URLs come back, and the workflow shows them as markdown.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { type Demo, difyPost, startDemo } from "./helpers.ts";

let demo: Demo;
before(async () => { demo = await startDemo(); });
after(() => demo.close());

const PATH = "/agent/api/v1/services/aigc/multimodal-generation/generation";

/** What the Dify plugin's dashscope_image_generation protocol sends for a prompt. */
function imageRequest(prompt: string, model = "qwen-image-plus") {
  return {
    model,
    input: { messages: [{ role: "user", content: [{ text: prompt }] }] },
    parameters: { negative_prompt: "", prompt_extend: true, watermark: false, size: "1328*1328" },
  };
}

/** The plugin's answer text (URLs joined by newlines), then the workflow's markdown for it. */
function toMarkdown(prompt: string, answer: any): string {
  const urls: string[] = answer.output.choices[0].message.content.map((c: any) => c.image).filter(Boolean);
  return urls.join("\n").split("\n").map((url) => `![${prompt}](${url})`).join("\n\n");
}

test("prompt in, image URL out, shown as markdown", async () => {
  const prompt = "a lighthouse on a cliff at dawn, watercolor";
  const before = demo.sims("dashscope")[0].requests.length;
  const res = await difyPost(demo.url + PATH, imageRequest(prompt));
  assert.equal(res.status, 200);
  const answer = await res.json() as any;
  assert.ok(Array.isArray(answer.output.choices), "the plugin's validation needs output.choices");
  assert.ok(typeof answer.request_id === "string" && answer.request_id.length > 0);
  const markdown = toMarkdown(prompt, answer);
  assert.match(markdown, /^!\[a lighthouse on a cliff at dawn, watercolor\]\(https:\/\/[^\s)]+\.png\)$/);

  const up = demo.sims("dashscope")[0].requests.slice(before);
  assert.equal(up.length, 1);
  assert.equal(up[0].path, "/api/v1/services/aigc/multimodal-generation/generation");
  assert.equal(up[0].headers.authorization, "Bearer sk-sim-dashscope");
  assert.equal(up[0].body.input.messages[0].content[0].text, prompt);
  assert.equal(up[0].body.parameters.size, "1328*1328");
  const rec = await demo.record((r) => r.path === PATH);
  assert.equal(rec.status, 200);
  assert.equal(rec.model, "qwen-image-plus");
  assert.equal(rec.consumer, "dify-agent");
});

test("two prompts give two different images", async () => {
  const [a, b] = await Promise.all(["a red fox", "a blue whale"].map(async (p) => {
    const res = await difyPost(demo.url + PATH, imageRequest(p));
    assert.equal(res.status, 200);
    return toMarkdown(p, await res.json());
  }));
  assert.notEqual(a.replace(/^!\[[^\]]*\]/, ""), b.replace(/^!\[[^\]]*\]/, ""));
});

test("an unsigned image request is refused before the provider", async () => {
  const before = demo.sims("dashscope")[0].requests.length;
  const res = await fetch(demo.url + PATH, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(imageRequest("x")) });
  assert.equal(res.status, 401);
  assert.equal(demo.sims("dashscope")[0].requests.length, before);
});
