// One simulator of gateway.yaml, for the compose stack: the cluster whose Higress service name
// (outbound|<port>||<service>.dns) is the argument, with that cluster's simulator options, listening
// on all interfaces at the cluster's port.
//   node --import tsx e2e/compose/sim.ts dashscope
import { DEFAULT_CONFIG, loadConfigFile } from "../../host/gateway/config.ts";
import { registryOf } from "../../host/gateway/higress.ts";
import { startSimulator } from "../../host/gateway/upstreams.ts";

const service = process.argv[2];
const config = loadConfigFile(process.env.GATEWAY_CONFIG ?? DEFAULT_CONFIG);
const cluster = config.clusters.find((c) => registryOf(c.name)?.name === service && c.simulator);
if (!cluster) {
  const known = config.clusters.filter((c) => c.simulator).map((c) => registryOf(c.name)?.name ?? c.name);
  process.stderr.write(`no simulated cluster for service "${service}" in ${config.file} (known: ${known.join(", ")})\n`);
  process.exit(2);
}
const sim = cluster.simulator!;
const port = Number(process.env.PORT ?? registryOf(cluster.name)!.port);
const server = await startSimulator(sim.kind, { ...sim.options, host: "0.0.0.0", port, seed: Number(process.env.SEED ?? 1) });
console.log(`simulated ${sim.kind} for ${cluster.name} on :${server.port}`);
const stop = () => { void server.close().then(() => process.exit(0)); };
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
