// Simulated Anthropic Messages API: POST /v1/messages (non-stream and the streaming event
// sequence, text and tool_use), POST /v1/messages/count_tokens; API-key and anthropic-version checks.
import { type Ctx, type SimServer, startServer } from './common.ts';
import { type ProviderOptions, Replies, pickTool } from './reply.ts';
import { type ChatMessage, countTokens, pieces, renderChat, toolArguments } from './text.ts';

export interface AnthropicSimOptions extends ProviderOptions {
  /** Reject requests without an `anthropic-version` header (the real API does). Default true. */
  requireVersion?: boolean;
}

export type AnthropicSim = SimServer;

interface Tool { name: string; input_schema?: unknown }

// Error types by status, with the usual message.
const ERRORS: Record<number, [string, string]> = {
  400: ['invalid_request_error', 'Invalid request.'],
  401: ['authentication_error', 'invalid x-api-key'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'The requested resource could not be found.'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'Number of requests has exceeded your rate limit.'],
  500: ['api_error', 'Internal server error'],
  503: ['overloaded_error', 'Overloaded'],
  529: ['overloaded_error', 'Overloaded'],
};

const sse = (type: string, data: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/** System prompt and messages in the canonical form the shared tokenizer renders. */
function promptText(b: { system?: unknown; messages: Array<{ role: string; content: unknown }>; tools?: unknown }): string {
  const msgs: ChatMessage[] = [];
  if (b.system !== undefined) msgs.push({ role: 'system', content: b.system });
  for (const m of b.messages) msgs.push({ role: m.role, content: m.content });
  return renderChat(msgs, b.tools);
}

export async function startAnthropic(opts: AnthropicSimOptions = {}): Promise<AnthropicSim> {
  const replies = new Replies(opts);
  const requireVersion = opts.requireVersion ?? true;

  const validate = (ctx: Ctx): boolean => {
    const b = ctx.body ?? {};
    const bad = (message: string) => { ctx.error({ status: 400, message }); return false; };
    if (requireVersion && !ctx.header('anthropic-version')) return bad('anthropic-version: header is required');
    if (typeof b.model !== 'string') return bad('model: Field required');
    if (!Array.isArray(b.messages) || b.messages.length === 0) return bad('messages: Field required');
    return true;
  };

  async function messages(ctx: Ctx): Promise<void> {
    if (!validate(ctx)) return;
    const b = ctx.body;
    if (!Number.isInteger(b.max_tokens) || b.max_tokens < 1) return ctx.error({ status: 400, message: 'max_tokens: Field required' });
    const prompt = promptText(b);
    const inputTokens = countTokens(prompt);
    const key = prompt;
    const id = replies.newId('msg_');
    const tools: Tool[] = (Array.isArray(b.tools) ? b.tools : []).filter((t: Tool) => typeof t?.name === 'string');
    const last = b.messages.at(-1);
    const hasToolResult = Array.isArray(last?.content) && last.content.some((p: { type?: string }) => p?.type === 'tool_result');
    const tool = pickTool(tools, b.tool_choice?.name, b.tool_choice?.type === 'none', hasToolResult);
    const usageBase = { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

    let block: Record<string, unknown>;
    let deltas: Array<Record<string, unknown>>;
    let outputTokens: number;
    let stopReason: string;
    if (tool) {
      const args = toolArguments(tool.input_schema);
      block = { type: 'tool_use', id: replies.newId('toolu_'), name: tool.name, input: JSON.parse(args) };
      deltas = pieces(args, 8).map((p) => ({ type: 'input_json_delta', partial_json: p }));
      outputTokens = countTokens(tool.name + args);
      stopReason = 'tool_use';
    } else {
      const { n, finish } = replies.capped(key, b.max_tokens);
      const words = replies.tokens(key, n);
      block = { type: 'text', text: words.join('') };
      deltas = words.map((w) => ({ type: 'text_delta', text: w }));
      outputTokens = n;
      stopReason = finish === 'length' ? 'max_tokens' : 'end_turn';
    }
    const message = { id, type: 'message', role: 'assistant', model: b.model, content: [block], stop_reason: stopReason, stop_sequence: null };
    const headers = { 'request-id': replies.newId('req_') };

    if (b.stream !== true) {
      await replies.generate(outputTokens);
      return ctx.json(200, { ...message, usage: { ...usageBase, output_tokens: outputTokens } }, headers);
    }
    ctx.startStream(headers);
    ctx.event(sse('message_start', { message: { ...message, content: [], stop_reason: null, usage: { ...usageBase, output_tokens: 1 } } }));
    const startBlock = block.type === 'tool_use' ? { ...block, input: {} } : { type: 'text', text: '' };
    const done = await replies.stream(ctx, deltas.length, (i) => {
      if (i === 0) {
        ctx.event(sse('content_block_start', { index: 0, content_block: startBlock }));
        ctx.event(sse('ping', {}));
      }
      ctx.event(sse('content_block_delta', { index: 0, delta: deltas[i] }));
    });
    if (!done) return;
    ctx.event(sse('content_block_stop', { index: 0 }));
    ctx.event(sse('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } }));
    ctx.event(sse('message_stop', {}));
    ctx.end();
  }

  function countTokensRoute(ctx: Ctx): void {
    if (!validate(ctx)) return;
    ctx.json(200, { input_tokens: countTokens(promptText(ctx.body)) });
  }

  return startServer({
    options: opts,
    // The API takes `x-api-key`; SDK 1.x sends the key as `Authorization: Bearer` instead.
    presentedKey: (ctx) => ctx.header('x-api-key') || ctx.bearer(),
    renderError: (e) => {
      const [type, message] = ERRORS[e.status] ?? ERRORS[500];
      return { type: 'error', error: { type: e.code ?? type, message: e.message ?? message }, request_id: replies.newId('req_') };
    },
    route(ctx) {
      if (ctx.method === 'POST' && ctx.path === '/v1/messages') return messages(ctx);
      if (ctx.method === 'POST' && ctx.path === '/v1/messages/count_tokens') return countTokensRoute(ctx);
      ctx.error({ status: 404, message: `${ctx.method} ${ctx.path} not found` });
    },
  });
}
