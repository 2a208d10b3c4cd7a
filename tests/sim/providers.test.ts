import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { DASHSCOPE_PATHS, type SimServer, startAnthropic, startDashScope, startDify, startOpenAI } from '../../e2e/sim/providers.ts';
import { jsonEvents, post, readSse } from './helpers.ts';

const sims: SimServer[] = [];
after(() => Promise.all(sims.map((s) => s.close())));
async function track<T extends SimServer>(p: Promise<T>): Promise<T> {
  const s = await p;
  sims.push(s);
  return s;
}
const fast = { timeScale: 0.01 };
const weatherSchema = { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] };

describe('OpenAI-compatible simulator', async () => {
  const sim = await track(startOpenAI({ ...fast, apiKeys: ['sk-test'] }));
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sim.url}/v1`, maxRetries: 0 });
  const auth = { authorization: 'Bearer sk-test' };

  test('openai client: stream and non-stream give the same text; usage trailer only with include_usage', async () => {
    const messages = [{ role: 'user' as const, content: 'Hello there' }];
    const whole = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    assert.equal(whole.object, 'chat.completion');
    assert.equal(whole.choices[0].finish_reason, 'stop');
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) usage = c.usage;
    }
    assert.equal(text, whole.choices[0].message.content);
    assert.deepEqual(usage, whole.usage);

    // On the wire: every chunk carries "usage": null except the trailer, whose choices are empty.
    const raw = jsonEvents(await readSse(await post(`${sim.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages, stream: true, max_tokens: 3, stream_options: { include_usage: true } }, auth)));
    assert.ok(raw.slice(0, -1).every((c) => c.usage === null && c.choices.length === 1));
    assert.deepEqual(raw.at(-1).choices, []);
    assert.equal(raw.at(-1).usage.completion_tokens, 3);
    assert.equal(raw.at(-2).choices[0].finish_reason, 'length');
    const plain = jsonEvents(await readSse(await post(`${sim.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages, stream: true, max_tokens: 3 }, auth)));
    assert.ok(plain.every((c) => !('usage' in c)));
  });

  test('tools: a tool call with schema-shaped arguments, then a text answer once the tool result is in', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: weatherSchema } }];
    const messages = [{ role: 'user' as const, content: 'Weather in Paris?' }];
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    const call = r.choices[0].message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(Object.keys(JSON.parse(call.function.arguments)).sort(), ['city', 'days']);

    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, stream: true });
    let args = '';
    let name = '';
    let finish = '';
    for await (const c of stream) {
      const tc = c.choices[0]?.delta?.tool_calls?.[0];
      name ||= tc?.function?.name ?? '';
      args += tc?.function?.arguments ?? '';
      finish ||= c.choices[0]?.finish_reason ?? '';
    }
    assert.equal(name, 'get_weather');
    assert.equal(args, call.function.arguments);
    assert.equal(finish, 'tool_calls');

    const answer = await client.chat.completions.create({
      model: 'gpt-4o-mini', tools,
      messages: [...messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '{"temp": 20}' }],
    });
    assert.equal(answer.choices[0].finish_reason, 'stop');
    assert.ok((answer.choices[0].message.content ?? '').length > 0);
  });

  test('embeddings: deterministic unit vectors, dimension option, base64 decoded by the client', async () => {
    const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['apple', 'banana', 'apple'] });
    assert.equal(r.data.length, 3);
    assert.equal(r.data[0].embedding.length, 1536);
    assert.deepEqual(r.data[0].embedding, r.data[2].embedding);
    assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding);
    const norm = Math.hypot(...r.data[1].embedding);
    assert.ok(Math.abs(norm - 1) < 1e-3);
    const small = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'apple', dimensions: 8, encoding_format: 'float' });
    assert.equal(small.data[0].embedding.length, 8);
    assert.ok(r.usage.prompt_tokens > 0);
    // The client asked for base64 in the first call and decoded it.
    assert.equal(sim.requests.filter((q) => q.path === '/v1/embeddings')[0].body.encoding_format, 'base64');
  });

  test('rerank: {results:[{index, relevance_score, document}], usage}, best first, top_n', async () => {
    const docs = ['Bananas are yellow.', 'Paris is the capital of France.', 'The capital of Italy is Rome.'];
    const res = await post(`${sim.url}/v1/rerank`, { model: 'bge-reranker', query: 'capital of France', documents: docs, top_n: 2 }, auth);
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.results.length, 2);
    assert.equal(body.results[0].index, 1);
    assert.equal(body.results[0].document.text, docs[1]);
    assert.ok(body.results[0].relevance_score > body.results[1].relevance_score);
    assert.ok(body.usage.total_tokens > 0);
  });

  test('images: data[].url', async () => {
    const r = await client.images.generate({ model: 'dall-e-3', prompt: 'a red fox', n: 2 });
    assert.equal(r.data?.length, 2);
    assert.match(r.data?.[0].url ?? '', /^https:\/\/.+\.png$/);
  });

  test('a wrong key gets 401 with an OpenAI error object', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, { authorization: 'Bearer nope' });
    assert.equal(res.status, 401);
    assert.deepEqual((await res.json()).error.code, 'invalid_api_key');
  });
});

describe('Anthropic simulator', async () => {
  const sim = await track(startAnthropic({ ...fast, apiKeys: ['ak-1'] }));
  const client = new Anthropic({ apiKey: 'ak-1', baseURL: sim.url, maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: 'Tell me a story' }];

  test('@anthropic-ai/sdk: create and stream give the same message', async () => {
    const whole = await client.messages.create({ model: 'claude-sim', max_tokens: 1000, messages });
    assert.equal(whole.type, 'message');
    assert.equal(whole.stop_reason, 'end_turn');
    assert.equal(whole.content[0].type, 'text');
    const final = await client.messages.stream({ model: 'claude-sim', max_tokens: 1000, messages }).finalMessage();
    assert.deepEqual(final.content, whole.content);
    assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
    assert.equal(final.usage.input_tokens, whole.usage.input_tokens);
    const capped = await client.messages.create({ model: 'claude-sim', max_tokens: 3, messages });
    assert.equal(capped.stop_reason, 'max_tokens');
    assert.equal(capped.usage.output_tokens, 3);
  });

  test('the stream follows the documented event sequence', async () => {
    const res = await post(`${sim.url}/v1/messages`, { model: 'claude-sim', max_tokens: 4, stream: true, messages }, { 'x-api-key': 'ak-1', 'anthropic-version': '2023-06-01' });
    const events = await readSse(res);
    assert.deepEqual(events.map((e) => e.event), [
      'message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta', 'content_block_delta',
      'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
    ]);
    const data = events.map((e) => JSON.parse(e.data));
    assert.ok(data.every((d, i) => d.type === events[i].event), 'data.type repeats the event name');
    assert.deepEqual(data[0].message.content, []);
    assert.equal(data[3].delta.type, 'text_delta');
    assert.deepEqual(data[8].delta, { stop_reason: 'max_tokens', stop_sequence: null });
    assert.equal(data[8].usage.output_tokens, 4);
  });

  test('tool_use streams as input_json_delta and parses into the final message', async () => {
    const tools = [{ name: 'get_weather', input_schema: weatherSchema as Anthropic.Tool.InputSchema }];
    const final = await client.messages.stream({ model: 'claude-sim', max_tokens: 200, tools, messages: [{ role: 'user', content: 'Weather?' }] }).finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const block = final.content[0];
    assert.ok(block.type === 'tool_use');
    assert.equal(block.name, 'get_weather');
    assert.deepEqual(Object.keys(block.input as object).sort(), ['city', 'days']);
    const raw = await readSse(await post(`${sim.url}/v1/messages`, { model: 'claude-sim', max_tokens: 200, stream: true, tools, messages: [{ role: 'user', content: 'Weather?' }] }, { 'x-api-key': 'ak-1', 'anthropic-version': '2023-06-01' }));
    assert.ok(raw.some((e) => e.event === 'content_block_delta' && JSON.parse(e.data).delta.type === 'input_json_delta'));
  });

  test('errors: {type:"error", error:{type, message}}; missing anthropic-version, bad key', async () => {
    const noVersion = await post(`${sim.url}/v1/messages`, { model: 'm', max_tokens: 5, messages }, { 'x-api-key': 'ak-1' });
    assert.equal(noVersion.status, 400);
    assert.equal((await noVersion.json()).error.type, 'invalid_request_error');
    await assert.rejects(
      new Anthropic({ apiKey: 'wrong', baseURL: sim.url, maxRetries: 0 }).messages.create({ model: 'm', max_tokens: 5, messages }),
      (e: InstanceType<typeof Anthropic.AuthenticationError>) => e.status === 401 && (e.error as { error: { type: string } }).error.type === 'authentication_error',
    );
  });
});

describe('DashScope simulator', async () => {
  const sim = await track(startDashScope({ ...fast, apiKeys: ['sk-ds'] }));
  const auth = { authorization: 'Bearer sk-ds' };
  const gen = { model: 'qwen-plus', input: { messages: [{ role: 'user', content: '你好' }] } };

  test('text generation: result_format text (default) and message', async () => {
    const text = await (await post(sim.url + DASHSCOPE_PATHS.generation, { ...gen, parameters: { max_tokens: 5 } }, auth)).json();
    assert.equal(text.output.finish_reason, 'length');
    assert.equal(text.output.text.split(' ').length, 5);
    assert.deepEqual(Object.keys(text.usage).sort(), ['input_tokens', 'output_tokens', 'total_tokens']);
    assert.equal(typeof text.request_id, 'string');
    const msg = await (await post(sim.url + DASHSCOPE_PATHS.generation, { ...gen, parameters: { result_format: 'message' } }, auth)).json();
    assert.equal(msg.output.choices[0].finish_reason, 'stop');
    assert.equal(msg.output.choices[0].message.role, 'assistant');
  });

  test('SSE (X-DashScope-SSE or Accept): cumulative by default, increments with incremental_output', async () => {
    const params = { result_format: 'message', max_tokens: 4 };
    const cumulative = await readSse(await post(sim.url + DASHSCOPE_PATHS.generation, { ...gen, parameters: params }, { ...auth, 'X-DashScope-SSE': 'enable' }));
    assert.deepEqual(cumulative.map((e) => e.id), ['1', '2', '3', '4']);
    assert.ok(cumulative.every((e) => e.event === 'result' && e.comments.includes('HTTP_STATUS/200')));
    const texts = cumulative.map((e) => JSON.parse(e.data).output.choices[0].message.content as string);
    assert.ok(texts.every((t, i) => i === 0 || t.startsWith(texts[i - 1])));
    assert.deepEqual(cumulative.map((e) => JSON.parse(e.data).output.choices[0].finish_reason), ['null', 'null', 'null', 'length']);
    assert.equal(JSON.parse(cumulative[3].data).usage.output_tokens, 4);

    const inc = await readSse(await post(sim.url + DASHSCOPE_PATHS.generation, { ...gen, parameters: { ...params, incremental_output: true } }, { ...auth, accept: 'text/event-stream' }));
    const pieces = inc.map((e) => JSON.parse(e.data).output.choices[0]);
    assert.equal(pieces.map((p) => p.message.content).join(''), texts[3]);
    assert.equal(pieces.at(-1).finish_reason, 'length');
  });

  test('text embedding: output.embeddings[].{text_index, embedding}, parameters.dimension', async () => {
    const r = await (await post(sim.url + DASHSCOPE_PATHS.embedding, { model: 'text-embedding-v3', input: { texts: ['a', 'b'] }, parameters: { dimension: 64 } }, auth)).json();
    assert.deepEqual(r.output.embeddings.map((e: { text_index: number }) => e.text_index), [0, 1]);
    assert.equal(r.output.embeddings[0].embedding.length, 64);
    assert.ok(r.usage.total_tokens > 0);
  });

  test('text rerank: both body shapes the Dify plugin sends', async () => {
    const docs = ['苹果 apple fruit', 'capital city Paris France', 'rust language'];
    const nested = await (await post(sim.url + DASHSCOPE_PATHS.rerank, { model: 'gte-rerank-v2', input: { query: 'Paris France', documents: docs }, parameters: { return_documents: true, top_n: 2 } }, auth)).json();
    assert.equal(nested.output.results.length, 2);
    assert.deepEqual(nested.output.results[0], { index: 1, relevance_score: nested.output.results[0].relevance_score, document: { text: docs[1] } });
    assert.ok(nested.usage.total_tokens > 0);
    const flat = await (await post(sim.url + DASHSCOPE_PATHS.rerank, { model: 'qwen3-rerank', query: 'Paris France', documents: docs, top_n: 3 }, auth)).json();
    assert.deepEqual(flat.output.results.map((x: { index: number }) => x.index)[0], 1);
    assert.equal(flat.output.results.length, 3);
    const bare = await (await post(sim.url + DASHSCOPE_PATHS.rerank, { model: 'gte-rerank-v2', input: { query: 'Paris', documents: docs } }, auth)).json();
    assert.ok(bare.output.results.every((x: object) => !('document' in x)), 'documents only when return_documents is set');
  });

  test('multimodal generation: an image URL for image models', async () => {
    const r = await (await post(sim.url + DASHSCOPE_PATHS.multimodal, {
      model: 'qwen-image-plus',
      input: { messages: [{ role: 'user', content: [{ text: 'a cat' }] }] },
      parameters: { negative_prompt: '', prompt_extend: true, watermark: false, size: '1328*1328' },
    }, auth)).json();
    assert.equal(r.output.choices[0].finish_reason, 'stop');
    assert.match(r.output.choices[0].message.content[0].image, /^https:\/\/.+\.png$/);
    assert.deepEqual(r.usage, { width: 1328, height: 1328, image_count: 1 });
  });

  test('errors are {code, message, request_id}', async () => {
    const res = await post(sim.url + DASHSCOPE_PATHS.generation, gen, { authorization: 'Bearer wrong' });
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.code, 'InvalidApiKey');
    assert.deepEqual(Object.keys(body).sort(), ['code', 'message', 'request_id']);
  });
});

describe('Dify simulator', async () => {
  const sim = await track(startDify({
    ...fast,
    apps: [{ key: 'app-chat', mode: 'chat' }, { key: 'app-agent', mode: 'agent-chat' }, { key: 'app-flow', mode: 'workflow' }],
  }));
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const chatMessages = (key: string, body: Record<string, unknown>) => post(`${sim.url}/v1/chat-messages`, { inputs: {}, user: 'u1', ...body }, as(key));

  test('chat-messages: streaming message events and message_end usage; blocking gives the same answer', async () => {
    const events = jsonEvents(await readSse(await chatMessages('app-chat', { query: 'hello', response_mode: 'streaming' })));
    const end = events.at(-1);
    assert.equal(end.event, 'message_end');
    const answer = events.filter((e) => e.event === 'message').map((e) => e.answer).join('');
    const u = end.metadata.usage;
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    assert.equal(u.completion_tokens, answer.split(' ').length);
    assert.equal(typeof u.total_price, 'string');
    const blocking = await (await chatMessages('app-chat', { query: 'hello', response_mode: 'blocking' })).json();
    assert.equal(blocking.answer, answer);
    assert.deepEqual(blocking.metadata.usage.prompt_tokens, u.prompt_tokens);
  });

  test('conversations remember earlier turns; unknown ids are 404', async () => {
    const first = await (await chatMessages('app-chat', { query: 'one', response_mode: 'blocking' })).json();
    const second = await (await chatMessages('app-chat', { query: 'two', response_mode: 'blocking', conversation_id: first.conversation_id })).json();
    assert.equal(second.conversation_id, first.conversation_id);
    assert.ok(second.metadata.usage.prompt_tokens > first.metadata.usage.prompt_tokens + first.metadata.usage.completion_tokens);
    const missing = await chatMessages('app-chat', { query: 'x', response_mode: 'blocking', conversation_id: 'nope' });
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).code, 'not_found');
  });

  test('agent apps stream agent_message events', async () => {
    const events = jsonEvents(await readSse(await chatMessages('app-agent', { query: 'plan', response_mode: 'streaming' })));
    assert.ok(events.some((e) => e.event === 'agent_message'));
    assert.ok(!events.some((e) => e.event === 'message'));
    assert.equal(events.at(-1).event, 'message_end');
  });

  test('workflows/run: event sequence with totals; blocking shape', async () => {
    const events = jsonEvents(await readSse(await post(`${sim.url}/v1/workflows/run`, { inputs: { topic: 'tea' }, response_mode: 'streaming', user: 'u1' }, as('app-flow'))));
    const names = events.map((e) => e.event);
    assert.equal(names[0], 'workflow_started');
    assert.equal(names.at(-1), 'workflow_finished');
    assert.equal(names.filter((n) => n === 'node_started').length, 3);
    assert.equal(names.filter((n) => n === 'node_finished').length, 3);
    const fin = events.at(-1).data;
    assert.equal(fin.status, 'succeeded');
    assert.equal(fin.outputs.text, events.filter((e) => e.event === 'text_chunk').map((e) => e.data.text).join(''));
    assert.ok(fin.total_tokens > 0);
    const blocking = await (await post(`${sim.url}/v1/workflows/run`, { inputs: { topic: 'tea' }, response_mode: 'blocking', user: 'u1' }, as('app-flow'))).json();
    assert.equal(blocking.data.outputs.text, fin.outputs.text);
    assert.equal(blocking.data.total_tokens, fin.total_tokens);
    assert.equal(typeof blocking.workflow_run_id, 'string');
  });

  test('keys pick the app: unknown key 401, wrong app mode 400', async () => {
    const bad = await chatMessages('app-unknown', { query: 'x', response_mode: 'blocking' });
    assert.equal(bad.status, 401);
    assert.deepEqual(await bad.json(), { code: 'unauthorized', message: 'Access token is invalid', status: 401 });
    const wrongMode = await chatMessages('app-flow', { query: 'x', response_mode: 'blocking' });
    assert.equal(wrongMode.status, 400);
    assert.equal((await wrongMode.json()).code, 'not_chat_app');
  });
});
