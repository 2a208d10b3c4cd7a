// Per-route plugin configuration, the Higress way.
// Higress hands a plugin its global config plus `_rules_`: [{ _match_route_ | _match_route_prefix_ |
// _match_domain_ | _match_service_: [...], ...config }]. The first matching rule wins; its config is the
// global JSON with the rule's keys laid over it; no match means the global config (or, when the plugin
// has only rules, the plugin stays out of that request). Matching reads the `route_name` and
// `cluster_name` properties and `:authority`, as wasm-go's rule matcher does.
import { JsonValue, parseJson, jsonError } from "./json";
import { getPropertyString, requestHeader, logError } from "./proxy/hostcalls";

/** Collects the first configuration error with the field it concerns. */
export class ConfigError {
  field: string = "";
  why: string = "";
  prefix: string = "";
  get failed(): bool { return this.why.length > 0; }
  /** Records the error (first one wins) and returns false so callers can `return err.fail(...)`. */
  fail(field: string, why: string): bool {
    if (!this.failed) { this.field = this.prefix + field; this.why = why; }
    return false;
  }
  toString(): string { return this.field.length ? this.field + ": " + this.why : this.why; }
}

/** What each plugin implements: JSON in, typed config out (or null after err.fail). */
export abstract class ConfigParser<C> {
  abstract parse(json: JsonValue, err: ConfigError): C | null;
}

const enum RuleKind { RouteAndService, Route, RoutePrefix, Domain, Service }

class Rule<C> {
  kind: RuleKind = RuleKind.Route;
  routes: string[] = [];
  routePrefixes: string[] = [];
  domains: string[] = [];
  services: string[] = [];
  constructor(public config: C) {}
}

/** Where the current request stands, read once per request. */
export class RequestPlace {
  constructor(public route: string, public cluster: string, public host: string) {}
  static current(): RequestPlace {
    const r = getPropertyString("route_name");
    const c = getPropertyString("cluster_name");
    const a = requestHeader(":authority");
    return new RequestPlace(r == null ? "" : r, c == null ? "" : c, a == null ? "" : stripPort(a));
  }
}

function stripPort(host: string): string {
  if (host.startsWith("[")) {                 // [v6]:port
    const end = host.indexOf("]");
    return end > 0 ? host.substring(0, end + 1) : host;
  }
  const colon = host.lastIndexOf(":");
  return colon >= 0 && host.indexOf(":") == colon ? host.substring(0, colon) : host;
}

/** `*.example.com` (suffix), `www.*` (prefix), `*` (any), or an exact host. */
function domainMatches(pattern: string, host: string): bool {
  if (pattern == "*") return true;
  if (pattern.startsWith("*")) return host.endsWith(pattern.substring(1));
  if (pattern.endsWith("*")) return host.startsWith(pattern.substring(0, pattern.length - 1));
  return pattern == host;
}

/** Cluster names look like `outbound|443||qwen.dns`; a service `qwen.dns` matches any port, `qwen.dns:443` one. */
function serviceMatches(service: string, cluster: string): bool {
  const parts = cluster.split("|");
  if (parts.length < 4) return false;
  const port = parts[1];
  const fqdn = parts[3];
  const colon = service.lastIndexOf(":");
  if (colon < 0) return service == fqdn;
  return service.substring(0, colon) == fqdn && service.substring(colon + 1) == port;
}

export class RouteConfig<C> {
  global: C | null = null;
  rules: Rule<C>[] = [];

  /** The config for a request at `place`: the first matching rule's, else the global one (may be null: skip). */
  forPlace(place: RequestPlace): C | null {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (ruleMatches(r, place)) return r.config;
    }
    return this.global;
  }
  /** Call from onRequestHeaders. */
  current(): C | null {
    return this.rules.length == 0 ? this.global : this.forPlace(RequestPlace.current());
  }
}

function anyEquals(list: string[], v: string): bool {
  for (let i = 0; i < list.length; i++) if (list[i] == v) return true;
  return false;
}

function ruleMatches<C>(r: Rule<C>, p: RequestPlace): bool {
  switch (r.kind) {
    case RuleKind.RouteAndService: {
      if (!anyEquals(r.routes, p.route)) return false;
      for (let i = 0; i < r.services.length; i++) if (serviceMatches(r.services[i], p.cluster)) return true;
      return false;
    }
    case RuleKind.Route: return anyEquals(r.routes, p.route);
    case RuleKind.RoutePrefix: {
      for (let i = 0; i < r.routePrefixes.length; i++) if (p.route.startsWith(r.routePrefixes[i])) return true;
      return false;
    }
    case RuleKind.Domain: {
      for (let i = 0; i < r.domains.length; i++) if (domainMatches(r.domains[i], p.host)) return true;
      return false;
    }
    default: {
      for (let i = 0; i < r.services.length; i++) if (serviceMatches(r.services[i], p.cluster)) return true;
      return false;
    }
  }
}

/** A list of strings at `key` (absent → empty); a wrong type is a config error (null). */
export function stringList(json: JsonValue, key: string, err: ConfigError): string[] | null {
  const out = new Array<string>();
  const v = json.get(key);
  if (v == null || v.isNull()) return out;
  if (!v.isArray()) { err.fail(key, "must be a list of strings"); return null; }
  for (let i = 0; i < v.length; i++) {
    const item = v.at(i);
    if (item == null || !item.isString()) { err.fail(key + "[" + i.toString() + "]", "must be a string"); return null; }
    out.push(item.asString());
  }
  return out;
}

function isMatchKey(k: string): bool { return k.startsWith("_match_") || k == "_rules_"; }

/** Parses the plugin configuration text. On error logs `config error: <field>: <why>` and returns null. */
export function parseRouteConfig<C>(text: string, parser: ConfigParser<C>, err: ConfigError): RouteConfig<C> | null {
  const trimmed = text.trim();
  const root = parseJson(trimmed.length == 0 ? "{}" : trimmed);
  if (root == null) { err.fail("", "not valid JSON: " + jsonError()); logError("config error: " + err.toString()); return null; }
  if (!root.isObject()) { err.fail("", "must be a JSON object"); logError("config error: " + err.toString()); return null; }

  const globalJson = JsonValue.newObject();
  const keys = root.keys();
  for (let i = 0; i < keys.length; i++) {
    const v = root.get(keys[i]);
    if (v != null && !isMatchKey(keys[i])) globalJson.set(keys[i], v);
  }

  const out = new RouteConfig<C>();
  const rj0 = root.get("_rules_");
  const rulesJson = rj0 == null ? JsonValue.newArray() : rj0;
  const hasRules = rulesJson.isArray() && rulesJson.length > 0;
  if (!rulesJson.isNull() && !rulesJson.isArray()) {
    err.fail("_rules_", "must be a list");
    logError("config error: " + err.toString());
    return null;
  }
  if (globalJson.length > 0 || !hasRules) {
    out.global = parser.parse(globalJson, err);
    if (out.global == null) { if (!err.failed) err.fail("", "refused"); logError("config error: " + err.toString()); return null; }
  }
  if (hasRules) {
    for (let i = 0; i < rulesJson.length; i++) {
      err.prefix = "_rules_[" + i.toString() + "].";
      const rj = rulesJson.at(i);
      if (rj == null || !rj.isObject()) { err.fail("", "must be an object"); break; }
      const routes = stringList(rj, "_match_route_", err);
      const prefixes = stringList(rj, "_match_route_prefix_", err);
      const domains = stringList(rj, "_match_domain_", err);
      const services = stringList(rj, "_match_service_", err);
      if (routes == null || prefixes == null || domains == null || services == null) break;
      const merged = globalJson.clone();
      const rk = rj.keys();
      for (let k = 0; k < rk.length; k++) {
        const v = rj.get(rk[k]);
        if (v != null && !isMatchKey(rk[k])) merged.set(rk[k], v);
      }
      const cfg = parser.parse(merged, err);
      if (cfg == null) { if (!err.failed) err.fail("", "refused"); break; }
      const rule = new Rule<C>(cfg);
      rule.routes = routes; rule.routePrefixes = prefixes; rule.domains = domains; rule.services = services;
      if (routes.length > 0 && services.length > 0) rule.kind = RuleKind.RouteAndService;
      else if (routes.length > 0) rule.kind = RuleKind.Route;
      else if (prefixes.length > 0) rule.kind = RuleKind.RoutePrefix;
      else if (domains.length > 0) rule.kind = RuleKind.Domain;
      else if (services.length > 0) rule.kind = RuleKind.Service;
      else { err.fail("", "needs one of _match_route_, _match_route_prefix_, _match_domain_, _match_service_"); break; }
      out.rules.push(rule);
    }
    err.prefix = "";
    if (err.failed) { logError("config error: " + err.toString()); return null; }
  }
  return out;
}
