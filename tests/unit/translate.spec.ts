// Translator invariants inside the VM: hostile or odd input gives an error value or a clean stream
// error, never a trap; the stream translator terminates exactly once. Golden shapes are in tests/ai-proxy.
import { parseJson } from "../../shared/json";
import {
  Api, ChatStreamTranslator, Exchange, Protocol, Route, TranslateOptions, detectRoute, translateError, translateRequest,
  translateResponse,
} from "../../shared/translate/index";

const ODD_BODIES: string[] = [
  "{}", "[]", "1", "\"s\"", "null",
  "{\"messages\":1,\"input\":[],\"model\":{}}",
  "{\"messages\":[1,\"x\",null,{\"role\":5,\"content\":{\"a\":[]},\"tool_calls\":\"no\"}],\"tools\":[null,{\"function\":7}],\"tool_choice\":[]}",
  "{\"model\":\"m\",\"input\":{\"messages\":[{\"content\":[{\"x\":1},7]}],\"texts\":{},\"query\":1,\"documents\":[{}]},\"parameters\":[]}",
  "{\"model\":\"qwen-image\",\"prompt\":[],\"documents\":[1],\"query\":\"q\",\"system\":[{\"text\":1}],\"stop\":{}}",
];

function exchange(client: Protocol, provider: Protocol): Exchange {
  const ex = new Exchange();
  ex.api = Api.Chat;
  ex.client = client;
  ex.provider = provider;
  ex.model = "m";
  return ex;
}

describe("translate", () => {
  it("never traps on odd bodies for any route and provider", () => {
    const paths = ["/v1/chat/completions", "/v1/messages", "/api/v1/services/aigc/text-generation/generation",
      "/api/v1/services/aigc/multimodal-generation/generation", "/v1/embeddings", "/v1/rerank", "/v1/images/generations",
      "/api/v1/services/rerank/text-rerank/text-rerank", "/api/v1/services/embeddings/text-embedding/text-embedding"];
    let outcomes = 0;
    for (let i = 0; i < ODD_BODIES.length; i++) {
      const body = parseJson(ODD_BODIES[i]);
      expect(body).not.toBeNull();
      if (body === null) continue;
      for (let p = 0; p < paths.length; p++) {
        const route = detectRoute(paths[p], body);
        for (let prov = 0; prov < 3; prov++) {
          const tr = translateRequest(route, <Protocol>prov, body, new TranslateOptions());
          const out = tr.body;
          if (out !== null) translateResponse(tr.exchange, body); // answers as odd as the requests
          if (tr.error.length > 0 || out !== null) outcomes++;
        }
      }
    }
    expect(outcomes).toBe(ODD_BODIES.length * paths.length * 3);
  });

  it("rejects an Anthropic request without messages with an error value", () => {
    const body = parseJson("{\"model\":\"x\"}");
    if (body === null) return;
    const tr = translateRequest(new Route(Api.Chat, Protocol.Anthropic), Protocol.OpenAI, body, new TranslateOptions());
    expect(tr.ok()).toBe(false);
    expect(tr.error).toBe("messages: required array");
  });

  it("ends a garbage stream once, in the client's error shape", () => {
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 3; p++) {
        const t = new ChatStreamTranslator(exchange(<Protocol>c, <Protocol>p));
        let out = t.feedString("data: {\"x\":\nevent: error\n\n\n\ndata: [1,2]\n\nid:1\nevent:result\ndata:{oops}\n\n");
        out += t.finish();
        out += t.feedString("data: [DONE]\n\n") + t.finish();
        expect(t.closed).toBe(true);
        expect(t.error.length).toBeGreaterThan(0);
        expect(out.length).toBeGreaterThan(0);
      }
    }
  });

  it("maps an Anthropic overloaded error to 503 for OpenAI clients and keeps 529 for Anthropic ones", () => {
    const body = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
    expect(translateError(Protocol.OpenAI, 529, body).status).toBe(503);
    expect(translateError(Protocol.Anthropic, 529, body).status).toBe(529);
    expect(translateError(Protocol.DashScope, 200, "").status).toBe(502);
  });
});
