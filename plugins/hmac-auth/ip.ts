// IP allow and deny lists (IPv4/IPv6 CIDR), configured like Higress's ip-restriction plugin:
// ip_source_type origin-source (the peer address) or header (ip_header_name, by default
// x-forwarded-for), plus `hop`: which entry of a comma-separated header counts. `first` is the
// client as the chain claims it (Higress's choice); `last` is the address the nearest proxy
// saw, the one a client cannot forge when exactly one trusted proxy appends to the header.
import { JsonValue } from "../../shared/json";
import { ConfigError, stringList } from "../../shared/config";
import { CidrSet, IpAddr, parseIpPort } from "../../shared/net";
import { getPropertyString } from "../../shared/proxy/hostcalls";
import { HeaderView } from "./sign";
import { asciiLower } from "./text";

export class IpRules {
  /** "" reads the peer address (the `source.address` property). */
  header: string = "";
  lastHop: bool = false;
  allow: CidrSet | null = null;
  deny: CidrSet | null = null;
  status: u32 = 403;
  message: string = "Your IP address is blocked.";
}

function cidrs(json: JsonValue, key: string, err: ConfigError): CidrSet | null {
  const saved = err.prefix;
  err.prefix = saved + "ip_restriction.";
  const list = stringList(json, key, err);
  err.prefix = saved;
  if (list == null || list.length == 0) return null;
  const set = new CidrSet();
  for (let i = 0; i < list.length; i++) {
    if (!set.add(unchecked(list[i]).trim())) {
      err.fail("ip_restriction." + key + "[" + i.toString() + "]", "is not an IP address or CIDR prefix");
      return null;
    }
  }
  return set;
}

export function parseIpRules(json: JsonValue, err: ConfigError): IpRules | null {
  if (!json.isObject()) { err.fail("ip_restriction", "must be an object"); return null; }
  const r = new IpRules();
  const source = json.getString("ip_source_type", "origin-source");
  if (source == "header") {
    r.header = asciiLower(json.getString("ip_header_name", "x-forwarded-for"));
    if (r.header.length == 0) { err.fail("ip_restriction.ip_header_name", "must not be empty"); return null; }
  } else if (source != "origin-source") {
    err.fail("ip_restriction.ip_source_type", "must be origin-source or header");
    return null;
  }
  const hop = json.getString("hop", "first");
  if (hop != "first" && hop != "last") { err.fail("ip_restriction.hop", "must be first or last"); return null; }
  r.lastHop = hop == "last";
  r.allow = cidrs(json, "allow", err);
  r.deny = cidrs(json, "deny", err);
  if (err.failed) return null;
  const status = json.getInt("status", 403);
  if (status < 200 || status > 599) { err.fail("ip_restriction.status", "must be an HTTP status"); return null; }
  r.status = <u32>status;
  const message = json.getString("message", "");
  if (message.length > 0) r.message = message;
  return r;
}

/** The client address per the rules, or null when it is missing or not an address. */
export function clientIp(rules: IpRules, h: HeaderView): IpAddr | null {
  let text: string | null;
  if (rules.header.length == 0) {
    text = getPropertyString("source.address");
  } else {
    const v = h.get(rules.header);
    if (v == null) return null;
    const comma = rules.lastHop ? v.lastIndexOf(",") : v.indexOf(",");
    text = comma < 0 ? v : rules.lastHop ? v.substring(comma + 1) : v.substring(0, comma);
  }
  if (text == null) return null;
  const ip = parseIpPort(text.trim());
  return ip == null ? null : ip.ip;
}

/**
 * Deny wins over allow; with an allow list only listed addresses pass. An address that cannot
 * be read is refused whenever a list is set (Higress lets it through a deny list).
 */
export function ipAllowed(rules: IpRules, h: HeaderView): bool {
  const allow = rules.allow, deny = rules.deny;
  if (allow == null && deny == null) return true;
  const ip = clientIp(rules, h);
  if (ip == null) return false;
  if (deny != null && deny.contains(ip)) return false;
  return allow == null || allow.contains(ip);
}
