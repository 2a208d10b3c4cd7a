// Simulated OpenAI-compatible provider: chat completions (stream, tools, include_usage),
// embeddings, rerank (vLLM/Jina shape) and image generation.
import { type Ctx, type SimServer, startServer } from './common.ts';
import { type ChatBase, SSE_DONE, chunk, completion, nowSeconds, usage, usageChunk } from './openai-format.ts';
import { type ProviderOptions, Replies, documentTexts, embeddingInputs, float32Base64, pickTool, rank } from './reply.ts';
import { countTokens, embedText, hash32, pieces, relevance, renderChat, toolArguments } from './text.ts';

export interface OpenAISimOptions extends ProviderOptions {
  /** Model ids listed by /v1/models; when `strictModels`, others get 404. */
  models?: string[];
  strictModels?: boolean;
}

export type OpenAISim = SimServer;

interface FunctionTool { name: string; parameters?: unknown }

// 1×1 transparent PNG, for `response_format: "b64_json"`.
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

export async function startOpenAI(opts: OpenAISimOptions = {}): Promise<OpenAISim> {
  const replies = new Replies(opts);
  const models = opts.models ?? ['gpt-4o-mini', 'text-embedding-3-small'];
  const defaultDims = opts.embeddingDims ?? 1536;
  const extra = { system_fingerprint: 'fp_sim', service_tier: 'default' };

  const errorType = (s: number) => (s === 429 ? 'rate_limit_exceeded' : s >= 500 ? 'server_error' : 'invalid_request_error');
  const errorCode = (s: number) => (s === 401 ? 'invalid_api_key' : s === 429 ? 'rate_limit_exceeded' : s === 404 ? 'model_not_found' : null);
  const errorMessage = (s: number) => (s === 401 ? 'Incorrect API key provided.' : s === 429 ? 'Rate limit reached for requests.'
    : s === 503 ? 'The engine is currently overloaded, please try again later.' : 'The server had an error while processing your request. Sorry about that!');

  const checkModel = (ctx: Ctx): boolean => {
    const m = ctx.body?.model;
    if (typeof m !== 'string' || m === '') { ctx.error({ status: 400, message: 'you must provide a model parameter' }); return false; }
    if (opts.strictModels && !models.includes(m)) {
      ctx.error({ status: 404, message: `The model \`${m}\` does not exist or you do not have access to it.` });
      return false;
    }
    return true;
  };

  async function chat(ctx: Ctx): Promise<void> {
    const b = ctx.body ?? {};
    if (!checkModel(ctx)) return;
    if (!Array.isArray(b.messages) || b.messages.length === 0) return ctx.error({ status: 400, message: "Missing required parameter: 'messages'." });
    const prompt = renderChat(b.messages, b.tools);
    const promptTokens = countTokens(prompt);
    const key = `${b.seed ?? ''}\u0000${prompt}`;
    const base: ChatBase = { id: replies.newId('chatcmpl-'), created: nowSeconds(), model: b.model, extra };
    const tools: FunctionTool[] = (Array.isArray(b.tools) ? b.tools : []).map((t: { function?: FunctionTool }) => t?.function).filter((f: FunctionTool | undefined) => typeof f?.name === 'string');
    const choice = b.tool_choice;
    const tool = pickTool(tools, choice?.function?.name, choice === 'none', b.messages.at(-1)?.role === 'tool');
    const u = (completionTokens: number) => usage(promptTokens, completionTokens, {
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    });
    const includeUsage = b.stream === true && b.stream_options?.include_usage === true;
    // OpenAI sends `"usage": null` on every chunk but the trailer when include_usage is on.
    const top = includeUsage ? { usage: null } : {};

    if (tool) {
      const args = toolArguments(tool.parameters);
      const call = { id: replies.newId('call_'), type: 'function', function: { name: tool.name, arguments: args } };
      const completionTokens = countTokens(tool.name + args);
      if (b.stream !== true) {
        await replies.generate(completionTokens);
        return ctx.json(200, completion(base, { content: null, tool_calls: [call], refusal: null, annotations: [] }, 'tool_calls', u(completionTokens)));
      }
      ctx.startStream();
      const parts = pieces(args, 8);
      const done = await replies.stream(ctx, parts.length, (i) => {
        if (i === 0) ctx.event(chunk(base, { role: 'assistant', content: null, tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: tool.name, arguments: '' } }], refusal: null }, null, {}, top));
        ctx.event(chunk(base, { tool_calls: [{ index: 0, function: { arguments: parts[i] } }] }, null, {}, top));
      });
      if (!done) return;
      ctx.event(chunk(base, {}, 'tool_calls', {}, top));
      if (includeUsage) ctx.event(usageChunk(base, u(completionTokens)));
      ctx.event(SSE_DONE);
      return ctx.end();
    }

    const { n, finish } = replies.length(key, b.max_completion_tokens ?? b.max_tokens);
    const words = replies.tokens(key, n);
    if (b.stream !== true) {
      await replies.generate(n);
      return ctx.json(200, completion(base, { content: words.join(''), refusal: null, annotations: [] }, finish, u(n)));
    }
    ctx.startStream();
    const done = await replies.stream(ctx, n, (i) => {
      if (i === 0) ctx.event(chunk(base, { role: 'assistant', content: '', refusal: null }, null, {}, top));
      ctx.event(chunk(base, { content: words[i] }, null, {}, top));
    });
    if (!done) return;
    ctx.event(chunk(base, {}, finish, {}, top));
    if (includeUsage) ctx.event(usageChunk(base, u(n)));
    ctx.event(SSE_DONE);
    ctx.end();
  }

  async function embeddings(ctx: Ctx): Promise<void> {
    const b = ctx.body ?? {};
    if (!checkModel(ctx)) return;
    const texts = embeddingInputs(b.input);
    if (!texts) return ctx.error({ status: 400, message: "'input' must be a string, an array of strings, or an array of token arrays." });
    const dims = Number.isInteger(b.dimensions) && b.dimensions > 0 ? b.dimensions : defaultDims;
    const asBase64 = b.encoding_format === 'base64';
    await replies.quick();
    const tokens = texts.reduce((s, t) => s + countTokens(t), 0);
    ctx.json(200, {
      object: 'list',
      data: texts.map((t, index) => {
        const v = embedText(t, dims);
        return { object: 'embedding', index, embedding: asBase64 ? float32Base64(v) : v };
      }),
      model: b.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  async function rerank(ctx: Ctx): Promise<void> {
    const b = ctx.body ?? {};
    if (!checkModel(ctx)) return;
    const docs = documentTexts(b.documents);
    if (typeof b.query !== 'string' || !docs) return ctx.error({ status: 400, message: "'query' (string) and 'documents' (array) are required." });
    await replies.quick();
    const tokens = docs.reduce((s, d) => s + countTokens(b.query) + countTokens(d), 0);
    ctx.json(200, {
      id: replies.newId('rerank-'),
      model: b.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
      results: rank(b.query, docs, b.top_n, relevance).map((r) => ({
        index: r.index,
        ...(b.return_documents === false ? {} : { document: { text: docs[r.index] } }),
        relevance_score: r.score,
      })),
    });
  }

  async function images(ctx: Ctx): Promise<void> {
    const b = ctx.body ?? {};
    if (typeof b.prompt !== 'string' || b.prompt === '') return ctx.error({ status: 400, message: "Missing required parameter: 'prompt'." });
    const n = Number.isInteger(b.n) && b.n > 0 ? b.n : 1;
    await replies.imageDelay();
    ctx.json(200, {
      created: nowSeconds(),
      data: Array.from({ length: n }, (_, i) => (b.response_format === 'b64_json'
        ? { b64_json: PNG_1X1, revised_prompt: b.prompt }
        : { url: `https://images.sim.invalid/${hash32(`${b.prompt}\u0000${i}`).toString(16)}.png`, revised_prompt: b.prompt })),
    });
  }

  return startServer({
    options: opts,
    renderError: (e) => ({ error: { message: e.message ?? errorMessage(e.status), type: errorType(e.status), param: null, code: e.code ?? errorCode(e.status) } }),
    route(ctx) {
      const { method, path } = ctx;
      if (method === 'GET' && path === '/v1/models') {
        return ctx.json(200, { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'sim' })) });
      }
      if (method === 'POST') {
        if (path === '/v1/chat/completions') return chat(ctx);
        if (path === '/v1/embeddings') return embeddings(ctx);
        if (path === '/v1/rerank' || path === '/rerank' || path === '/v2/rerank') return rerank(ctx);
        if (path === '/v1/images/generations') return images(ctx);
      }
      ctx.error({ status: 404, message: `Invalid URL (${method} ${path})` });
    },
  });
}
