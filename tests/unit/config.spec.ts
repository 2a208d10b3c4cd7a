import { JsonValue } from "../../shared/json";
import { ConfigError, ConfigParser, RequestPlace, parseRouteConfig, stringList } from "../../shared/config";

class Limit { constructor(public name: string, public tokens: i64) {} }
class LimitParser extends ConfigParser<Limit> {
  parse(json: JsonValue, err: ConfigError): Limit | null {
    const t = json.get("tokens");
    if (t == null || !t.isNumber() || t.asNumber() <= 0) { err.fail("tokens", "must be a positive number"); return null; }
    return new Limit(json.getString("name", "global"), t.asInt());
  }
}
const P = new LimitParser();
function place(route: string, cluster: string, host: string): RequestPlace { return new RequestPlace(route, cluster, host); }

describe("parseRouteConfig", () => {
  it("parses a global-only config", () => {
    const err = new ConfigError();
    const c = parseRouteConfig<Limit>("{\"tokens\": 10}", P, err);
    expect(c).not.toBeNull();
    expect(c!.forPlace(place("r", "", "")) !.tokens).toBe(10);
  });
  it("refuses a bad global config naming the field", () => {
    const err = new ConfigError();
    expect(parseRouteConfig<Limit>("{\"tokens\": -1}", P, err)).toBeNull();
    expect(err.toString()).toBe("tokens: must be a positive number");
  });
  it("refuses invalid JSON without trapping", () => {
    const err = new ConfigError();
    expect(parseRouteConfig<Limit>("{\"tokens\": ", P, err)).toBeNull();
    expect(err.why.startsWith("not valid JSON")).toBe(true);
  });
  it("layers a rule over the global config and matches the first rule", () => {
    const err = new ConfigError();
    const c = parseRouteConfig<Limit>(
      "{\"tokens\":10,\"name\":\"g\",\"_rules_\":[" +
        "{\"_match_route_\":[\"chat\"],\"tokens\":20}," +
        "{\"_match_route_prefix_\":[\"ai-\"],\"name\":\"pfx\"}," +
        "{\"_match_domain_\":[\"*.example.com\"],\"tokens\":40}," +
        "{\"_match_service_\":[\"qwen.dns:443\"],\"tokens\":50}," +
        "{\"_match_route_\":[\"both\"],\"_match_service_\":[\"vllm.static\"],\"tokens\":60}]}", P, err);
    expect(c).not.toBeNull();
    const cfg = c!;
    const chat = cfg.forPlace(place("chat", "", ""))!;
    expect(chat.tokens).toBe(20);
    expect(chat.name).toBe("g");                          // inherited from the global config
    const pfx = cfg.forPlace(place("ai-route-1", "", ""))!;
    expect(pfx.name).toBe("pfx");
    expect(pfx.tokens).toBe(10);
    expect(cfg.forPlace(place("x", "", "api.example.com"))!.tokens).toBe(40);
    expect(cfg.forPlace(place("x", "", "example.com"))!.tokens).toBe(10);    // *.example.com needs a subdomain
    expect(cfg.forPlace(place("x", "outbound|443||qwen.dns", "h"))!.tokens).toBe(50);
    expect(cfg.forPlace(place("x", "outbound|80||qwen.dns", "h"))!.tokens).toBe(10);   // port must match
    expect(cfg.forPlace(place("both", "outbound|80||vllm.static", ""))!.tokens).toBe(60);
    expect(cfg.forPlace(place("both", "outbound|80||other.static", ""))!.tokens).toBe(10); // route and service both needed
  });
  it("stays out of unmatched requests when there is no global config", () => {
    const err = new ConfigError();
    const c = parseRouteConfig<Limit>("{\"_rules_\":[{\"_match_route_\":[\"a\"],\"tokens\":5}]}", P, err);
    expect(c).not.toBeNull();
    expect(c!.forPlace(place("b", "", ""))).toBeNull();
    expect(c!.forPlace(place("a", "", ""))!.tokens).toBe(5);
  });
  it("names the rule in errors", () => {
    const err = new ConfigError();
    expect(parseRouteConfig<Limit>("{\"tokens\":1,\"_rules_\":[{\"_match_route_\":[\"a\"]},{\"_match_route_\":[\"b\"],\"tokens\":0}]}", P, err)).toBeNull();
    expect(err.toString()).toBe("_rules_[1].tokens: must be a positive number");
    const err2 = new ConfigError();
    expect(parseRouteConfig<Limit>("{\"tokens\":1,\"_rules_\":[{\"tokens\":3}]}", P, err2)).toBeNull();
    expect(err2.field).toBe("_rules_[0].");
    const err3 = new ConfigError();
    expect(parseRouteConfig<Limit>("{\"tokens\":1,\"_rules_\":[{\"_match_route_\":\"a\"}]}", P, err3)).toBeNull();
    expect(err3.toString()).toBe("_rules_[0]._match_route_: must be a list of strings");
  });
  it("strips the port from :authority for domain rules", () => {
    const rp = new RequestPlace("", "", "");
    expect(rp.host).toBe("");
    const err = new ConfigError();
    const c = parseRouteConfig<Limit>("{\"tokens\":1,\"_rules_\":[{\"_match_domain_\":[\"www.*\"],\"tokens\":2}]}", P, err)!;
    expect(c.forPlace(place("", "", "www.a.com"))!.tokens).toBe(2);
  });
});

describe("stringList", () => {
  it("accepts absent, rejects non-strings", () => {
    const err = new ConfigError();
    const o = JsonValue.newObject();
    expect(stringList(o, "k", err)!.length).toBe(0);
    const a = JsonValue.newArray(); a.push(JsonValue.newString("x")); a.push(JsonValue.newNumber(1));
    o.set("k", a);
    expect(stringList(o, "k", err)).toBeNull();
    expect(err.toString()).toBe("k[1]: must be a string");
  });
});
