// OpenAI chat-completion wire objects, shared by the vLLM sim and the OpenAI-compatible provider sim.
// `extra` carries the fields in which the two servers differ (vLLM: stop_reason; OpenAI: system_fingerprint…).

export interface ChatBase {
  id: string;
  created: number;
  model: string;
  /** Top-level fields added to every chunk / response object. */
  extra?: Record<string, unknown>;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  [k: string]: unknown;
}

export function usage(prompt: number, completion: number, extra: Record<string, unknown> = {}): Usage {
  return { prompt_tokens: prompt, total_tokens: prompt + completion, completion_tokens: completion, ...extra };
}

export const sseData = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`;
export const SSE_DONE = 'data: [DONE]\n\n';

export function chunk(base: ChatBase, delta: Record<string, unknown>, finishReason: string | null, choiceExtra: Record<string, unknown> = {}, top: Record<string, unknown> = {}): string {
  return sseData({
    id: base.id, object: 'chat.completion.chunk', created: base.created, model: base.model, ...base.extra,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason, ...choiceExtra }],
    ...top,
  });
}

/** The `stream_options.include_usage` trailer: empty choices, usage filled. */
export function usageChunk(base: ChatBase, u: Usage, object = 'chat.completion.chunk'): string {
  return sseData({ id: base.id, object, created: base.created, model: base.model, ...base.extra, choices: [], usage: u });
}

export function completion(base: ChatBase, message: Record<string, unknown>, finishReason: string, u: Usage, choiceExtra: Record<string, unknown> = {}): unknown {
  return {
    id: base.id, object: 'chat.completion', created: base.created, model: base.model, ...base.extra,
    choices: [{ index: 0, message: { role: 'assistant', ...message }, logprobs: null, finish_reason: finishReason, ...choiceExtra }],
    usage: u,
  };
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
