// Run every simulator standalone, for poking at them by hand:
//   node --import tsx e2e/sim/main.ts [basePort] [timeScale]
// Ports: vLLM base, OpenAI base+1, DashScope base+2, Anthropic base+3, Dify base+4.
import { startAnthropic, startDashScope, startDify, startOpenAI } from './providers.ts';
import { startVllm } from './vllm.ts';

const base = Number(process.argv[2] ?? 18000);
const timeScale = Number(process.argv[3] ?? 1);
const servers = [
  ['vllm', await startVllm({ port: base, timeScale })],
  ['openai', await startOpenAI({ port: base + 1, timeScale })],
  ['dashscope', await startDashScope({ port: base + 2, timeScale })],
  ['anthropic', await startAnthropic({ port: base + 3, timeScale })],
  ['dify (keys app-chat, app-workflow)', await startDify({ port: base + 4, timeScale })],
] as const;
for (const [name, s] of servers) console.log(`${name.padEnd(36)} ${s.url}`);

process.once('SIGINT', async () => {
  await Promise.all(servers.map(([, s]) => s.close()));
  process.exit(0);
});
