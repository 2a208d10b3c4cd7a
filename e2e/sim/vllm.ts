// Simulated vLLM OpenAI-compatible server: /v1/chat/completions and /v1/completions (stream and not), /v1/models,
// /metrics (vLLM metric names), /health. Timing comes from the scheduler in engine.ts;
// the cost model and its sources are described in e2e/sim/README.md.
import { type Ctx, type ServerOptions, type SimServer, startServer } from './common.ts';
import { Engine, type CostModel, type FinishReason, GPUS, type GpuName, type RequestRecord } from './engine.ts';
import { PromWriter } from './metrics.ts';
import { type ChatBase, SSE_DONE, type Usage, chunk, completion, nowSeconds, sseData, usage, usageChunk } from './openai-format.ts';
import { type LengthRange, blockHashes, countTokens, drawLength, filler, makeIds, renderChat } from './text.ts';

export interface VllmSimOptions extends ServerOptions {
  /** Served model name (also the `model_name` metric label). */
  model?: string;
  /** Extra accepted names, like `--served-model-name a b`. */
  servedModelNames?: string[];
  seed?: number;
  /** Multiplies every simulated duration (0.05 = 20× faster than a real GPU). */
  timeScale?: number;
  blockSize?: number;
  /** The hardware modelled (default a100): cost model and KV-cache size, which the next two options override. */
  gpu?: GpuName;
  /** KV cache capacity in blocks. */
  numGpuBlocks?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  maxModelLen?: number;
  enablePrefixCaching?: boolean;
  /**
   * Also cache the blocks a request fills while generating (default true, as vLLM v1 does), so the next
   * turn of a conversation, which carries this reply, finds it cached. False: only prompt blocks.
   */
  cacheGeneratedBlocks?: boolean;
  cost?: Partial<CostModel>;
  /** Output length drawn (per prompt, seeded) when the request sets no max_tokens. */
  outputTokens?: LengthRange;
}

export interface VllmStats {
  requests: number;
  finished: number;
  aborted: number;
  running: number;
  waiting: number;
  kvUsage: number;
  promptTokens: number;
  generationTokens: number;
  prefixQueriedTokens: number;
  prefixHitTokens: number;
  prefixHitRate: number;
  evictedBlocks: number;
  preemptions: number;
  /** Finished requests in completion order, times in simulated ms. */
  perRequest: RequestRecord[];
}

export interface VllmSim extends SimServer {
  model: string;
  engine: Engine;
  stats(): VllmStats;
  resetStats(): void;
  metricsText(): string;
}

export async function startVllm(opts: VllmSimOptions = {}): Promise<VllmSim> {
  const model = opts.model ?? 'meta-llama/Llama-3.1-8B-Instruct';
  const names = [model, ...(opts.servedModelNames ?? [])];
  const seed = opts.seed ?? 0;
  const blockSize = opts.blockSize ?? 16;
  const maxModelLen = opts.maxModelLen ?? 32_768;
  const outputRange = opts.outputTokens ?? { min: 32, max: 256 };
  const cacheGenerated = opts.cacheGeneratedBlocks ?? true;
  const gpu = GPUS[opts.gpu ?? 'a100'];
  const engine = new Engine({
    blockSize,
    numGpuBlocks: opts.numGpuBlocks ?? gpu.numGpuBlocks,
    maxNumSeqs: opts.maxNumSeqs ?? 256,
    maxNumBatchedTokens: opts.maxNumBatchedTokens ?? 8192,
    enablePrefixCaching: opts.enablePrefixCaching ?? true,
    timeScale: opts.timeScale ?? 1,
    cost: { ...gpu.cost, ...opts.cost },
  });
  const newId = makeIds(seed);

  const stats = (): VllmStats => {
    const c = engine.counters;
    return {
      requests: c.requests, finished: c.finished, aborted: c.aborted,
      running: engine.numRunning, waiting: engine.numWaiting, kvUsage: engine.kv.usage,
      promptTokens: c.promptTokens, generationTokens: c.generationTokens,
      prefixQueriedTokens: c.prefixQueriedTokens, prefixHitTokens: c.prefixHitTokens,
      prefixHitRate: c.prefixQueriedTokens ? c.prefixHitTokens / c.prefixQueriedTokens : 0,
      evictedBlocks: engine.kv.evictions, preemptions: c.preemptions,
      perRequest: engine.records.slice(),
    };
  };

  const metricsText = (): string => {
    const c = engine.counters;
    const usagePerc = engine.kv.usage;
    return new PromWriter({ model_name: model, engine: '0' })
      .gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', engine.numRunning)
      .gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', engine.numWaiting)
      .gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', usagePerc)
      .gauge('vllm:gpu_cache_usage_perc', 'GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead.', usagePerc)
      .counter('vllm:prefix_cache_queries', 'Prefix cache queries, in terms of number of queried tokens.', c.prefixQueriedTokens)
      .counter('vllm:prefix_cache_hits', 'Prefix cache hits, in terms of number of cached tokens.', c.prefixHitTokens)
      .counter('vllm:num_preemptions', 'Cumulative number of preemption from the engine.', c.preemptions)
      .counter('vllm:prompt_tokens', 'Number of prefill tokens processed.', c.promptTokens)
      .counter('vllm:generation_tokens', 'Number of generation tokens processed.', c.generationTokens)
      .counter('vllm:request_success', 'Count of successfully processed requests.',
        (Object.keys(c.finishedByReason) as FinishReason[]).map((r) => [{ finished_reason: r }, c.finishedByReason[r]]))
      .histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', engine.ttft)
      .text();
  };

  // vLLM's error envelope: {"error": {message, type, param, code: <http status>}}.
  const errorType = (s: number): string =>
    s === 400 ? 'BadRequestError' : s === 401 ? 'Unauthorized' : s === 404 ? 'NotFoundError' : s === 429 ? 'RateLimitError' : s === 503 ? 'ServiceUnavailableError' : 'InternalServerError';

  /** Wire format of the two generation endpoints; the engine work is the same. */
  interface Wire {
    /** The text to tokenize, or an error message. */
    prompt(b: any): string | { error: string };
    idPrefix: string;
    /** First chunk(s) of a stream, sent with the first token. */
    opening(base: ChatBase, top: Record<string, unknown>): string[];
    piece(base: ChatBase, text: string, finish: string | null, top: Record<string, unknown>): string;
    whole(base: ChatBase, text: string, finish: string, u: Usage): unknown;
  }

  const chatWire: Wire = {
    prompt: (b) => (Array.isArray(b.messages) && b.messages.length > 0 ? renderChat(b.messages, b.tools) : { error: 'messages: Field required' }),
    idPrefix: 'chatcmpl-',
    opening: (base, top) => [chunk(base, { role: 'assistant', content: '' }, null, {}, top)],
    piece: (base, text, finish, top) => chunk(base, { content: text }, finish, finish ? { stop_reason: null } : {}, top),
    whole: (base, text, finish, u) => completion(base, { content: text, tool_calls: [], reasoning_content: null }, finish, u, { stop_reason: null }),
  };

  // Legacy completions (Dify's completion mode): the raw prompt after the BOS token, no chat template.
  const textWire: Wire = {
    prompt: (b) => {
      const p = Array.isArray(b.prompt) && b.prompt.length === 1 ? b.prompt[0] : b.prompt;
      return typeof p === 'string' ? `<|begin_of_text|>${p}` : { error: 'prompt: a single string is required' };
    },
    idPrefix: 'cmpl-',
    opening: () => [],
    piece: (base, text, finish, top) => sseData({
      id: base.id, object: 'text_completion', created: base.created, model: base.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finish, stop_reason: null }], ...top,
    }),
    whole: (base, text, finish, u) => ({
      id: base.id, object: 'text_completion', created: base.created, model: base.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finish, stop_reason: null, prompt_logprobs: null }], usage: u,
    }),
  };

  const generate = (ctx: Ctx, wire: Wire): void => {
    const b = ctx.body ?? {};
    const bad = (message: string) => ctx.error({ status: 400, message });
    const prompt = wire.prompt(b);
    if (typeof prompt !== 'string') return bad(prompt.error);
    if (b.model !== undefined && !names.includes(b.model)) {
      return ctx.error({ status: 404, message: `The model \`${b.model}\` does not exist.` });
    }
    const promptTokens = countTokens(prompt);
    const requested = b.max_completion_tokens ?? b.max_tokens;
    if (requested !== undefined && requested !== null && !(Number.isInteger(requested) && requested >= 1)) {
      return bad('max_tokens must be at least 1');
    }
    const asked = requested ?? 0;
    if (promptTokens + asked > maxModelLen) {
      return bad(`This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptTokens + asked} tokens (${promptTokens} in the messages, ${asked} in the completion). Please reduce the length of the messages or completion.`);
    }
    const key = `${b.seed ?? ''}\u0000${prompt}`;
    const maxOutput = requested ?? Math.max(1, Math.min(drawLength(seed, key, outputRange), maxModelLen - promptTokens));
    if (promptTokens + maxOutput > engine.capacityTokens) {
      return bad(`Request needs ${promptTokens + maxOutput} tokens of KV cache but the simulated cache holds ${engine.capacityTokens}.`);
    }
    const finishReason: FinishReason = requested ? 'length' : 'stop';
    const base: ChatBase = { id: newId(wire.idPrefix), created: nowSeconds(), model: b.model ?? model };
    const u = (completionTokens: number) => usage(promptTokens, completionTokens);
    const stream = b.stream === true;
    const includeUsage = stream && b.stream_options?.include_usage === true;
    const continuousUsage = includeUsage && b.stream_options?.continuous_usage_stats === true;
    const top = (n: number) => (continuousUsage ? { usage: u(n) } : {});

    const token = filler(seed, key);
    let reply = '';
    for (let i = 0; i < maxOutput; i++) reply += token(i);
    // Filler tokens are 4 bytes each, so the reply's blocks hash as the next turn's prompt will.
    const hashes = blockHashes(cacheGenerated ? prompt + reply : prompt, blockSize);

    if (stream) ctx.startStream();
    const handle = engine.submit(
      { promptTokens, hashes, maxOutput, finishReason },
      {
        token(i) {
          if (!stream) return;
          if (i === 0) for (const e of wire.opening(base, top(0))) ctx.event(e);
          const last = i === maxOutput - 1;
          ctx.event(wire.piece(base, token(i), last ? finishReason : null, top(i + 1)));
        },
        finish(reason) {
          if (!stream) return ctx.json(200, wire.whole(base, reply, reason, u(maxOutput)));
          if (includeUsage) ctx.event(usageChunk(base, u(maxOutput), wire === textWire ? 'text_completion' : undefined));
          ctx.event(SSE_DONE);
          ctx.end();
        },
      },
    );
    ctx.res.on('close', () => { if (!ctx.res.writableFinished) handle.abort(); });
  };

  const server = await startServer({
    options: opts,
    // An API-key miss is answered by vLLM's auth middleware, not by the OpenAI error handler.
    renderError: (e) => (e.status === 401 ? { error: 'Unauthorized' } : { error: { message: e.message ?? errorType(e.status), type: e.code ?? errorType(e.status), param: null, code: e.status } }),
    onClose: () => engine.stop(),
    route(ctx) {
      const { method, path } = ctx;
      if (method === 'GET' && path === '/health') { ctx.res.writeHead(200).end(); return; }
      if (method === 'GET' && path === '/metrics') {
        ctx.res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metricsText());
        return;
      }
      if (method === 'GET' && path === '/v1/models') {
        ctx.json(200, {
          object: 'list',
          data: names.map((id) => ({ id, object: 'model', created: nowSeconds(), owned_by: 'vllm', root: model, parent: null, max_model_len: maxModelLen })),
        });
        return;
      }
      if (method === 'POST' && path === '/v1/chat/completions') return generate(ctx, chatWire);
      if (method === 'POST' && path === '/v1/completions') return generate(ctx, textWire);
      ctx.error({ status: 404, message: 'Not Found' });
    },
  });

  return {
    ...server,
    model,
    engine,
    stats,
    resetStats: () => engine.resetStats(),
    metricsText,
  };
}
