import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DASHSCOPE_PATHS, type SimServer, startAnthropic, startDashScope, startDify, startOpenAI } from '../../e2e/sim/providers.ts';
import { startVllm } from '../../e2e/sim/vllm.ts';
import { post, readSse } from './helpers.ts';

const sims: SimServer[] = [];
after(() => Promise.all(sims.map((s) => s.close())));
async function track<T extends SimServer>(p: Promise<T>): Promise<T> {
  const s = await p;
  sims.push(s);
  return s;
}
const fast = { timeScale: 0.01 };
const chatBody = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };

describe('forced statuses use each provider\'s own error body', () => {
  test('503 / 429 across the five simulators', async () => {
    const vllm = await track(startVllm({ ...fast, failures: [{ status: 503 }] }));
    const openai = await track(startOpenAI({ ...fast, failures: [{ status: 429, retryAfterS: 7 }] }));
    const anthropic = await track(startAnthropic({ ...fast, failures: [{ status: 529 }] }));
    const dashscope = await track(startDashScope({ ...fast, failures: [{ status: 429 }] }));
    const dify = await track(startDify({ ...fast, failures: [{ status: 500 }] }));

    const v = await post(`${vllm.url}/v1/chat/completions`, chatBody);
    assert.equal(v.status, 503);
    assert.deepEqual((await v.json()).error.code, 503);

    const o = await post(`${openai.url}/v1/chat/completions`, chatBody);
    assert.equal(o.status, 429);
    assert.equal(o.headers.get('retry-after'), '7');
    assert.equal((await o.json()).error.code, 'rate_limit_exceeded');

    const a = await post(`${anthropic.url}/v1/messages`, { ...chatBody, max_tokens: 5 }, { 'anthropic-version': '2023-06-01' });
    assert.equal(a.status, 529);
    assert.deepEqual((await a.json()).error, { type: 'overloaded_error', message: 'Overloaded' });

    const d = await post(dashscope.url + DASHSCOPE_PATHS.generation, { model: 'qwen-plus', input: { prompt: 'hi' } });
    assert.equal(d.status, 429);
    assert.equal((await d.json()).code, 'Throttling.RateQuota');

    const f = await post(`${dify.url}/v1/chat-messages`, { query: 'hi', response_mode: 'blocking' }, { authorization: 'Bearer app-chat' });
    assert.equal(f.status, 500);
    assert.equal((await f.json()).status, 500);
  });

  test('vLLM metrics and health stay up while the API is failed', async () => {
    const vllm = await track(startVllm({ ...fast, failures: [{ status: 500 }] }));
    assert.equal((await fetch(`${vllm.url}/metrics`)).status, 200);
    assert.equal((await fetch(`${vllm.url}/health`)).status, 200);
    assert.equal((await post(`${vllm.url}/v1/chat/completions`, chatBody)).status, 500);
  });
});

describe('failure rules', async () => {
  const sim = await track(startOpenAI(fast));
  const chat = (extra: Record<string, unknown> = {}, signal?: AbortSignal) => post(`${sim.url}/v1/chat/completions`, { ...chatBody, ...extra }, {}, signal);

  test('`times` limits a rule to the next N requests; `paths` to some endpoints', async () => {
    sim.inject({ status: 500, times: 2, paths: ['/v1/chat/completions'] });
    assert.equal((await post(`${sim.url}/v1/embeddings`, { model: 'e', input: 'x' })).status, 200);
    assert.equal((await chat()).status, 500);
    assert.equal((await chat()).status, 500);
    assert.equal((await chat()).status, 200);
  });

  test('hang: the request is read and never answered', async () => {
    sim.inject({ hang: true, times: 1 });
    sim.clearRequests();
    await assert.rejects(chat({}, AbortSignal.timeout(150)), { name: 'TimeoutError' });
    assert.equal(sim.requests.length, 1, 'the hung request was received');
    assert.equal((await chat()).status, 200);
  });

  test('reset: the connection is dropped without a reply', async () => {
    sim.inject({ reset: true, times: 1 });
    await assert.rejects(chat(), TypeError);
  });

  test('resetAfterEvents: a stream breaks off mid-way, without [DONE]', async () => {
    sim.inject({ resetAfterEvents: 3, times: 1 });
    const res = await chat({ stream: true, max_tokens: 20 });
    assert.equal(res.status, 200);
    const seen: string[] = [];
    await assert.rejects(readSse(res, (e) => seen.push(e.data)));
    assert.equal(seen.length, 3);
    assert.ok(!seen.includes('[DONE]'));
  });

  test('malformed: 200 with a body that does not parse (JSON and SSE)', async () => {
    sim.inject({ malformed: true, times: 2 });
    const res = await chat();
    assert.equal(res.status, 200);
    await assert.rejects(res.json(), SyntaxError);
    const events = await readSse(await chat({ stream: true }));
    assert.equal(events.length, 1);
    assert.throws(() => JSON.parse(events[0].data), SyntaxError);
  });

  test('firstByteDelayMs holds the response back (real milliseconds)', async () => {
    sim.inject({ firstByteDelayMs: 120, times: 1 });
    const t0 = performance.now();
    const res = await chat();
    assert.ok(performance.now() - t0 >= 115);
    assert.equal(res.status, 200);
  });

  test('requests are recorded with method, path, headers and parsed body; clearFailures drops pending rules', async () => {
    sim.clearRequests();
    sim.inject({ status: 500 });
    sim.clearFailures();
    const res = await post(`${sim.url}/v1/chat/completions?x=1`, { ...chatBody, user: 'u-9' }, { authorization: 'Bearer sk-abc', 'x-trace': 't1' });
    assert.equal(res.status, 200);
    const [r] = sim.requests;
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/v1/chat/completions');
    assert.equal(r.url, '/v1/chat/completions?x=1');
    assert.equal(r.headers.authorization, 'Bearer sk-abc');
    assert.equal(r.headers['x-trace'], 't1');
    assert.equal(r.body.user, 'u-9');
    assert.equal(JSON.parse(r.rawBody).model, 'gpt-4o-mini');
  });
});
