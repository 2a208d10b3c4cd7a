// `npm start`: the local gateway. See docs/running.md.
//   node --import tsx host/gateway/main.ts [--config FILE] [--port N] [--host ADDR] [--upstreams sim|real] [--redis HOST:PORT]
//   node --import tsx host/gateway/main.ts export-higress DIR [--config FILE] [--redis]
import { parseArgs } from "node:util";
import { banner } from "./banner.ts";
import { ConfigFileError, loadConfigFile } from "./config.ts";
import { DEFAULT_CONFIG, startGateway } from "./gateway.ts";
import { exportHigress } from "./higress.ts";

const USAGE = `usage: npm start -- [options]            (or: node --import tsx host/gateway/main.ts [options])
       npm start -- export-higress DIR [--config FILE]

  --config FILE        gateway file (env GATEWAY_CONFIG; default gateway.yaml: every demo on simulators)
  --port N             listening port (env PORT; default the file's port, 8080); 0 picks a free one
  --host ADDR          listening address (env GATEWAY_HOST; default 127.0.0.1)
  --upstreams MODE     sim (default) or real: clusters with a url use it (env GATEWAY_UPSTREAMS);
                       keys come from the environment (DASHSCOPE_API_KEY, OPENAI_API_KEY, ...)
  --redis HOST:PORT    cluster mode: rate limits, load balancing and nonces shared through Redis (env REDIS)

export-higress DIR writes the Higress side of the file for the all-in-one image's data directory:
wasmplugins/<name>.yaml (cluster mode, file:///opt/plugins/<name>.wasm), ingresses/<route>.yaml and
mcpbridges/default.yaml.`;

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        config: { type: "string" }, port: { type: "string" }, host: { type: "string" },
        upstreams: { type: "string" }, redis: { type: "string" }, help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    fail(`${(e as Error).message}\n\n${USAGE}`, 2);
  }
  const { values: v, positionals } = args;
  if (v.help) { console.log(USAGE); return; }
  const configPath = v.config ?? process.env.GATEWAY_CONFIG ?? DEFAULT_CONFIG;

  if (positionals[0] === "export-higress") {
    if (positionals.length !== 2) fail(`export-higress needs one directory\n\n${USAGE}`, 2);
    const written = exportHigress(loadConfigFile(configPath), positionals[1]);
    console.log(`wrote ${written.length} files under ${positionals[1]}:\n  ${written.join("\n  ")}`);
    return;
  }
  if (positionals.length) fail(`unexpected argument ${positionals[0]}\n\n${USAGE}`, 2);

  const portText = v.port ?? process.env.PORT;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) fail(`--port ${portText}: not a port number`, 2);
  const upstreams = v.upstreams ?? process.env.GATEWAY_UPSTREAMS ?? "sim";
  if (upstreams !== "sim" && upstreams !== "real") fail(`--upstreams ${upstreams}: must be sim or real`, 2);
  const redis = v.redis ?? process.env.REDIS ?? null;
  if (redis !== null && !/^[^:\s]+:\d+$/.test(redis)) fail(`--redis ${redis}: expected host:port`, 2);

  const gw = await startGateway({
    config: loadConfigFile(configPath), port, hostname: v.host ?? process.env.GATEWAY_HOST, upstreams, redis,
  });
  console.log(banner(gw));
  const stop = () => { void gw.close().then(() => process.exit(0)); };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((e: Error) => {
  if (e instanceof ConfigFileError) fail(`configuration error: ${e.message}`, 2);
  fail(`gateway failed to start: ${e.message}`, 1);
});
