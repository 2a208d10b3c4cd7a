// The current route's endpoints as Higress's Envoy reports them through proxy_get_upstream_hosts:
// name "ip:port", value {"health_status": "Healthy" | ..., "metrics": "<Prometheus text>"}.
import { parseJson } from "../../shared/json";
import { getUpstreamHosts } from "../../shared/proxy/hostcalls";

export class UpstreamHost {
  constructor(public address: string, public metrics: string) {}
}

/** The healthy endpoints, in the order the host lists them. Empty when the host reports none. */
export function healthyHosts(): UpstreamHost[] {
  const out = new Array<UpstreamHost>();
  const all = getUpstreamHosts();
  for (let i = 0; i < all.length; i++) {
    const info = parseJson(all[i].value);
    if (info == null || !info.isObject()) continue;
    if (info.getString("health_status") != "Healthy") continue;
    out.push(new UpstreamHost(all[i].name, info.getString("metrics")));
  }
  return out;
}
