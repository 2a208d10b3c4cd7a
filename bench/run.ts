// npm run bench [name...]: runs every benchmark piece in turn (or the named ones). Each prints a
// side-by-side table with ratios and ends with `BENCH <name> key=value ...` lines for scripts.
// The load-balancer benchmark is separate (npm run bench:lb): it runs simulated vLLM clusters for minutes.
import { benchHost } from "./host";
import { benchJsonSse } from "./json-sse";
import { benchCrypto } from "./crypto";
import { benchTokens } from "./tokens";
import { benchAiProxy } from "./ai-proxy";
import { benchHmacAuth } from "./hmac-auth";
import { benchRatelimit } from "./ratelimit";
import { benchFallback } from "./fallback";

const pieces: [string, () => Promise<void>][] = [
  ["host", benchHost],
  ["json-sse", benchJsonSse],
  ["crypto", benchCrypto],
  ["tokens", benchTokens],
  ["ai-proxy", benchAiProxy],
  ["hmac-auth", benchHmacAuth],
  ["ratelimit", benchRatelimit],
  ["fallback", benchFallback],
];

const wanted = process.argv.slice(2);
for (const [name, run] of pieces) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n=== bench ${name} ===`);
  await run();
}
