// Simulated DashScope native API (Alibaba Cloud Model Studio / Bailian): text generation
// (result_format text|message, SSE with incremental_output), text embedding, text rerank (both body
// shapes the Dify plugin sends) and multimodal generation (qwen-image style images, VL chat).
import { type Ctx, type SimServer, startServer } from './common.ts';
import { type ProviderOptions, Replies, documentTexts, rank } from './reply.ts';
import { type ChatMessage, contentText, countTokens, embedText, hash32, relevance, renderChat } from './text.ts';

export type DashScopeSim = SimServer;

export const DASHSCOPE_PATHS = {
  generation: '/api/v1/services/aigc/text-generation/generation',
  embedding: '/api/v1/services/embeddings/text-embedding/text-embedding',
  rerank: '/api/v1/services/rerank/text-rerank/text-rerank',
  multimodal: '/api/v1/services/aigc/multimodal-generation/generation',
} as const;

// Common status codes, from the DashScope status-code reference.
const ERROR_CODES: Record<number, [string, string]> = {
  400: ['InvalidParameter', 'Required parameter(s) missing or invalid, please check the request parameters.'],
  401: ['InvalidApiKey', 'Invalid API-key provided.'],
  403: ['AccessDenied', 'Access denied.'],
  404: ['ModelNotFound', 'Model not exist.'],
  408: ['RequestTimeOut', 'Request timed out, please try again later.'],
  429: ['Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.'],
  500: ['InternalError', 'An internal error has occured, please try again later or contact service support.'],
  503: ['ServiceUnavailable', 'The service is temporarily unavailable, please try again later.'],
};

export async function startDashScope(opts: ProviderOptions = {}): Promise<DashScopeSim> {
  const replies = new Replies(opts);
  const defaultDims = opts.embeddingDims ?? 1024;

  /** SSE is asked for by header, not by body. */
  const wantsSse = (ctx: Ctx) => ctx.header('x-dashscope-sse').toLowerCase() === 'enable' || ctx.header('accept').includes('text/event-stream');
  const sseEvent = (id: number, data: unknown) => `id:${id}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(data)}\n\n`;
  const bad = (ctx: Ctx, message: string) => ctx.error({ status: 400, message });

  async function generation(ctx: Ctx): Promise<void> {
    const b = ctx.body ?? {};
    if (typeof b.model !== 'string' || b.model === '') return ctx.error({ status: 400, message: 'Required parameter "model" missing from request.', code: 'BadRequest.EmptyModel' });
    const input = b.input ?? {};
    const messages: ChatMessage[] | null = Array.isArray(input.messages) ? input.messages
      : typeof input.prompt === 'string' ? [{ role: 'user', content: input.prompt }] : null;
    if (!messages || messages.length === 0) return ctx.error({ status: 400, message: 'Required input parameter missing from request.', code: 'BadRequest.EmptyInput' });
    const p = b.parameters ?? {};
    const prompt = renderChat(messages, p.tools);
    const inputTokens = countTokens(prompt);
    const key = `${p.seed ?? ''}\u0000${prompt}`;
    const { n, finish } = replies.length(key, p.max_tokens);
    const words = replies.tokens(key, n);
    const requestId = replies.newId('');
    const asMessage = p.result_format === 'message';
    const usage = (out: number) => ({ input_tokens: inputTokens, output_tokens: out, total_tokens: inputTokens + out });
    const output = (content: string, finishReason: string) => (asMessage
      ? { choices: [{ message: { role: 'assistant', content }, finish_reason: finishReason }] }
      : { text: content, finish_reason: finishReason });

    if (!wantsSse(ctx)) {
      await replies.generate(n);
      return ctx.json(200, { output: output(words.join(''), finish), usage: usage(n), request_id: requestId });
    }
    // Without incremental_output every event carries the whole text so far; with it, only the new piece.
    // While generating, finish_reason is the string "null".
    const incremental = p.incremental_output === true;
    ctx.startStream();
    let sofar = '';
    const done = await replies.stream(ctx, n, (i) => {
      sofar += words[i];
      const last = i === n - 1 && !incremental;
      ctx.event(sseEvent(i + 1, { output: output(incremental ? words[i] : sofar, last ? finish : 'null'), usage: usage(i + 1), request_id: requestId }));
    });
    if (!done) return;
    if (incremental) ctx.event(sseEvent(n + 1, { output: output('', finish), usage: usage(n), request_id: requestId }));
    ctx.end();
  }

  async function embedding(ctx: Ctx): Promise<void> {
    const b = ctx.body ?? {};
    const texts = b.input?.texts;
    const list: string[] | null = typeof texts === 'string' ? [texts] : Array.isArray(texts) && texts.every((t: unknown) => typeof t === 'string') ? texts : null;
    if (!list || list.length === 0) return ctx.error({ status: 400, message: 'Required input parameter missing from request.', code: 'BadRequest.EmptyInput' });
    const dims = Number.isInteger(b.parameters?.dimension) && b.parameters.dimension > 0 ? b.parameters.dimension : defaultDims;
    await replies.quick();
    ctx.json(200, {
      output: { embeddings: list.map((t, i) => ({ text_index: i, embedding: embedText(t, dims) })) },
      usage: { total_tokens: list.reduce((s, t) => s + countTokens(t), 0) },
      request_id: replies.newId(''),
    });
  }

  async function rerank(ctx: Ctx): Promise<void> {
    const b = ctx.body ?? {};
    // Two shapes: {input:{query, documents}, parameters:{return_documents, top_n}} and qwen3-rerank's flat {query, documents, top_n}.
    const nested = b.input !== undefined;
    const query = nested ? b.input?.query : b.query;
    const docs = documentTexts(nested ? b.input?.documents : b.documents);
    if (typeof query !== 'string' || !docs) return bad(ctx, 'query and documents are required');
    const topN = nested ? b.parameters?.top_n : b.top_n;
    // Nested: documents only on request (DashScope's default is false). Flat: assumed returned unless refused.
    const returnDocs = nested ? b.parameters?.return_documents === true : b.return_documents !== false;
    await replies.quick();
    ctx.json(200, {
      output: {
        results: rank(query, docs, topN, relevance).map((r) => ({
          index: r.index, relevance_score: r.score, ...(returnDocs ? { document: { text: docs[r.index] } } : {}),
        })),
      },
      usage: { total_tokens: docs.reduce((s, d) => s + countTokens(query) + countTokens(d), 0) },
      request_id: replies.newId(''),
    });
  }

  async function multimodal(ctx: Ctx): Promise<void> {
    const b = ctx.body ?? {};
    const messages = b.input?.messages;
    if (typeof b.model !== 'string' || !Array.isArray(messages) || messages.length === 0) return bad(ctx, 'model and input.messages are required');
    const requestId = replies.newId('');
    // Image models (qwen-image, wan*) draw; anything else answers like a VL chat model.
    if (/image|^wan/i.test(b.model)) {
      const prompt = messages.map((m: ChatMessage) => contentText(m.content)).join('\n');
      const [w, h] = String(b.parameters?.size ?? '1328*1328').split('*').map((x) => Number(x) || 1328);
      await replies.imageDelay();
      return ctx.json(200, {
        output: { choices: [{ finish_reason: 'stop', message: { role: 'assistant', content: [{ image: `https://dashscope-result.sim.invalid/${hash32(prompt).toString(16)}.png` }] } }] },
        usage: { width: w, height: h, image_count: 1 },
        request_id: requestId,
      });
    }
    const prompt = renderChat(messages);
    const key = prompt;
    const { n, finish } = replies.length(key, b.parameters?.max_tokens);
    await replies.generate(n);
    const inputTokens = countTokens(prompt);
    ctx.json(200, {
      output: { choices: [{ finish_reason: finish, message: { role: 'assistant', content: [{ text: replies.tokens(key, n).join('') }] } }] },
      usage: { input_tokens: inputTokens, output_tokens: n, total_tokens: inputTokens + n },
      request_id: requestId,
    });
  }

  return startServer({
    options: opts,
    renderError: (e) => {
      const [code, message] = ERROR_CODES[e.status] ?? ERROR_CODES[500];
      return { code: e.code ?? code, message: e.message ?? message, request_id: replies.newId('') };
    },
    route(ctx) {
      if (ctx.method === 'POST') {
        switch (ctx.path) {
          case DASHSCOPE_PATHS.generation: return generation(ctx);
          case DASHSCOPE_PATHS.embedding: return embedding(ctx);
          case DASHSCOPE_PATHS.rerank: return rerank(ctx);
          case DASHSCOPE_PATHS.multimodal: return multimodal(ctx);
        }
      }
      ctx.error({ status: 400, message: 'Invalid URL provided in your request.', code: 'InvalidURL' });
    },
  });
}
