// Simulated Dify service API: POST /v1/chat-messages (chat, agent-chat and advanced-chat apps,
// streaming and blocking, conversations with memory) and POST /v1/workflows/run (workflow apps).
// Each app has its own `app-…` key, sent as `Authorization: Bearer`.
import { type Ctx, type SimServer, startServer } from './common.ts';
import { type ProviderOptions, Replies } from './reply.ts';
import { type ChatMessage, countTokens, renderChat } from './text.ts';

export type DifyAppMode = 'chat' | 'agent-chat' | 'advanced-chat' | 'workflow';

export interface DifyApp {
  key: string;
  mode: DifyAppMode;
}

export interface DifySimOptions extends Omit<ProviderOptions, 'apiKeys'> {
  /** Apps served, each behind its own key. */
  apps?: DifyApp[];
}

export type DifySim = SimServer;

const ERRORS: Record<number, [string, string]> = {
  400: ['invalid_param', 'Invalid parameter.'],
  401: ['unauthorized', 'Access token is invalid'],
  404: ['not_found', 'Not found.'],
  429: ['too_many_requests', 'Too many requests.'],
  500: ['internal_server_error', 'The server encountered an internal error.'],
  503: ['service_unavailable', 'Service unavailable.'],
};

const sse = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`;

/** Dify reports prices as decimal strings; the simulator uses a flat 0.002 USD per 1k tokens. */
function usageOf(prompt: number, completion: number, latencyS: number) {
  const price = (t: number) => ((t * 0.002) / 1000).toFixed(7);
  return {
    prompt_tokens: prompt, prompt_unit_price: '0.002', prompt_price_unit: '0.001', prompt_price: price(prompt),
    completion_tokens: completion, completion_unit_price: '0.002', completion_price_unit: '0.001', completion_price: price(completion),
    total_tokens: prompt + completion, total_price: price(prompt + completion), currency: 'USD', latency: latencyS,
  };
}

export async function startDify(opts: DifySimOptions = {}): Promise<DifySim> {
  const replies = new Replies(opts);
  const apps = opts.apps ?? [{ key: 'app-chat', mode: 'chat' }, { key: 'app-workflow', mode: 'workflow' }];
  const byKey = new Map(apps.map((a) => [a.key, a]));
  /** Conversation history per app key and conversation id. */
  const conversations = new Map<string, Map<string, ChatMessage[]>>(apps.map((a) => [a.key, new Map()]));
  const seconds = () => Math.floor(Date.now() / 1000);

  /** The simulated graph: start → llm → end. */
  const NODES = [{ id: 'start', type: 'start', index: 1 }, { id: 'llm', type: 'llm', index: 2 }, { id: 'end', type: 'end', index: 3 }];
  type Run = { task_id: string; workflow_run_id: string };

  const nodeEvents = (base: Record<string, unknown>, node: { id: string; type: string; index: number }, phase: 'started' | 'finished', outputs: unknown, tokens: number) => sse({
    event: `node_${phase}`, ...base,
    data: {
      id: `${base.workflow_run_id}-${node.id}`, node_id: node.id, node_type: node.type, title: node.type.toUpperCase(), index: node.index,
      predecessor_node_id: null, inputs: {}, created_at: seconds(),
      ...(phase === 'finished' ? { outputs, status: 'succeeded', error: null, elapsed_time: 0.1, execution_metadata: { total_tokens: tokens, total_price: '0', currency: 'USD' } } : {}),
    },
  });

  /** Graph events before the LLM streams: workflow_started, the start node, the llm node starting. */
  const prelude = (ctx: Ctx, run: Run, a: DifyApp, inputs: unknown) => {
    ctx.event(sse({ event: 'workflow_started', ...run, data: { id: run.workflow_run_id, workflow_id: `wf-${a.key}`, inputs, created_at: seconds() } }));
    ctx.event(nodeEvents(run, NODES[0], 'started', {}, 0));
    ctx.event(nodeEvents(run, NODES[0], 'finished', inputs, 0));
    ctx.event(nodeEvents(run, NODES[1], 'started', {}, 0));
  };
  /** …and after: the llm node finishing, the end node, workflow_finished with the totals. */
  const coda = (ctx: Ctx, run: Run, a: DifyApp, text: string, outputs: unknown, totalTokens: number, elapsed: number) => {
    ctx.event(nodeEvents(run, NODES[1], 'finished', { text }, totalTokens));
    ctx.event(nodeEvents(run, NODES[2], 'started', {}, 0));
    ctx.event(nodeEvents(run, NODES[2], 'finished', outputs, 0));
    ctx.event(sse({ event: 'workflow_finished', ...run, data: workflowResult(run.workflow_run_id, a, outputs, totalTokens, elapsed) }));
  };

  function app(ctx: Ctx, modes: DifyAppMode[], wrong: [string, string]): DifyApp | null {
    const a = byKey.get(ctx.bearer());
    if (!a) { ctx.error({ status: 401 }); return null; }
    if (!modes.includes(a.mode)) { ctx.error({ status: 400, code: wrong[0], message: wrong[1] }); return null; }
    return a;
  }

  async function chatMessages(ctx: Ctx): Promise<void> {
    const a = app(ctx, ['chat', 'agent-chat', 'advanced-chat'], ['not_chat_app', 'Please check if your app mode matches the right API route.']);
    if (!a) return;
    const b = ctx.body ?? {};
    if (typeof b.query !== 'string' || b.query === '') return ctx.error({ status: 400, message: 'query is required' });
    const convs = conversations.get(a.key) as Map<string, ChatMessage[]>;
    let conversationId: string = typeof b.conversation_id === 'string' ? b.conversation_id : '';
    if (conversationId && !convs.has(conversationId)) return ctx.error({ status: 404, code: 'not_found', message: 'Conversation Not Exists.' });
    if (!conversationId) { conversationId = replies.newId('conv-'); convs.set(conversationId, []); }
    const history = convs.get(conversationId) as ChatMessage[];
    const inputs = b.inputs && typeof b.inputs === 'object' && Object.keys(b.inputs).length ? [{ role: 'system', content: JSON.stringify(b.inputs) }] : [];
    const prompt = renderChat([...inputs, ...history, { role: 'user', content: b.query }]);
    const promptTokens = countTokens(prompt);
    const { n } = replies.length(prompt);
    const words = replies.tokens(prompt, n);
    const answer = words.join('');
    const taskId = replies.newId('task-');
    const messageId = replies.newId('msg-');
    const started = performance.now();
    const remember = () => { history.push({ role: 'user', content: b.query }, { role: 'assistant', content: answer }); };
    const usage = () => usageOf(promptTokens, n, (performance.now() - started) / 1000);
    const ids = { task_id: taskId, id: messageId, message_id: messageId, conversation_id: conversationId };

    if (b.response_mode !== 'streaming') {
      await replies.generate(n);
      remember();
      return ctx.json(200, { event: 'message', ...ids, mode: a.mode, answer, metadata: { usage: usage(), retriever_resources: [] }, created_at: seconds() });
    }
    ctx.startStream();
    const run = { task_id: taskId, workflow_run_id: replies.newId('run-') };
    const advanced = a.mode === 'advanced-chat';
    const eventName = a.mode === 'agent-chat' ? 'agent_message' : 'message';
    if (advanced) prelude(ctx, run, a, b.inputs ?? {});
    if (a.mode === 'agent-chat') {
      ctx.event(sse({ event: 'agent_thought', ...ids, id: replies.newId('thought-'), position: 1, thought: '', observation: '', tool: '', tool_input: '', created_at: seconds(), message_files: [] }));
    }
    const done = await replies.stream(ctx, n, (i) => {
      ctx.event(sse({ event: eventName, ...ids, answer: words[i], created_at: seconds() }));
    });
    if (!done) return;
    remember();
    const u = usage();
    if (advanced) coda(ctx, run, a, answer, { answer }, u.total_tokens, u.latency);
    ctx.event(sse({ event: 'message_end', ...ids, metadata: { usage: u, retriever_resources: [] }, files: null }));
    ctx.end();
  }

  function workflowResult(runId: string, a: DifyApp, outputs: unknown, totalTokens: number, elapsed: number) {
    return {
      id: runId, workflow_id: `wf-${a.key}`, status: 'succeeded', outputs, error: null, elapsed_time: elapsed,
      total_tokens: totalTokens, total_steps: NODES.length, created_at: seconds(), finished_at: seconds(),
    };
  }

  async function workflowsRun(ctx: Ctx): Promise<void> {
    const a = app(ctx, ['workflow'], ['not_workflow_app', 'Please check if your app mode matches the right API route.']);
    if (!a) return;
    const b = ctx.body ?? {};
    if (!b.inputs || typeof b.inputs !== 'object') return ctx.error({ status: 400, message: 'inputs is required in request body' });
    const prompt = renderChat([{ role: 'user', content: JSON.stringify(b.inputs) }]);
    const promptTokens = countTokens(prompt);
    const { n } = replies.length(prompt);
    const words = replies.tokens(prompt, n);
    const text = words.join('');
    const run = { task_id: replies.newId('task-'), workflow_run_id: replies.newId('run-') };
    const started = performance.now();
    const result = () => workflowResult(run.workflow_run_id, a, { text }, promptTokens + n, (performance.now() - started) / 1000);

    if (b.response_mode !== 'streaming') {
      await replies.generate(n);
      return ctx.json(200, { ...run, data: result() });
    }
    ctx.startStream();
    prelude(ctx, run, a, b.inputs);
    const done = await replies.stream(ctx, n, (i) => {
      ctx.event(sse({ event: 'text_chunk', ...run, data: { text: words[i], from_variable_selector: ['llm', 'text'] } }));
    });
    if (!done) return;
    const r = result();
    coda(ctx, run, a, text, r.outputs, r.total_tokens, r.elapsed_time);
    ctx.end();
  }

  return startServer({
    // Keys are checked per app above, not by the shared API-key gate.
    options: { ...opts, apiKeys: [] },
    renderError: (e) => {
      const [code, message] = ERRORS[e.status] ?? ERRORS[500];
      return { code: e.code ?? code, message: e.message ?? message, status: e.status };
    },
    route(ctx) {
      if (ctx.method === 'POST' && ctx.path === '/v1/chat-messages') return chatMessages(ctx);
      if (ctx.method === 'POST' && ctx.path === '/v1/workflows/run') return workflowsRun(ctx);
      ctx.error({ status: 404, code: 'not_found', message: 'The requested URL was not found on the server.' });
    },
  });
}
