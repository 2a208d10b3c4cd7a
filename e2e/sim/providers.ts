// Simulated providers, one server each (so each can be failed, keyed and inspected on its own).
export { type OpenAISim, type OpenAISimOptions, startOpenAI } from './openai.ts';
export { type AnthropicSim, type AnthropicSimOptions, startAnthropic } from './anthropic.ts';
export { DASHSCOPE_PATHS, type DashScopeSim, startDashScope } from './dashscope.ts';
export { type DifyApp, type DifyAppMode, type DifySim, type DifySimOptions, startDify } from './dify.ts';
export type { ProviderOptions } from './reply.ts';
export type { FailureSpec, RecordedRequest, SimServer } from './common.ts';
