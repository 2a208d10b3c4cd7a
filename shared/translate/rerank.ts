// Rerank: DashScope text-rerank (both body shapes the Higress Dify plugin sends) <-> the
// Jina/Cohere-style /v1/rerank that vLLM serves.
// Shapes follow https://www.alibabacloud.com/help/en/model-studio/text-rerank-api (input/parameters form,
// output.results[].{index,relevance_score,document.text}), https://www.alibabacloud.com/help/en/model-studio/rerank
// (qwen3-rerank flat form) and https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html#re-rank-api
// ({model,query,documents,top_n} -> {id,model,usage,results[]}); TEI's /rerank answer ([{index,score,text}]) is read too.
import { JsonValue } from "../json";
import { Exchange, Protocol, TranslateOptions, TranslatedRequest, note, startRequest } from "./types";
import { JsonWriter, jsonBytes } from "./writer";
import { countAt, jarr, jobj, jstr } from "./util";

export const OPENAI_RERANK_PATH = "/v1/rerank";
export const DASHSCOPE_RERANK_PATH = "/api/v1/services/rerank/text-rerank/text-rerank";

/** Documents as a list of strings ({text} objects unwrapped); null if any is neither. */
function documentStrings(v: JsonValue | null): JsonValue | null {
  if (v === null || !v.isArray()) return null;
  const out = jarr();
  const items = v.items();
  for (let i = 0; i < items.length; i++) {
    const d = items[i];
    if (d.isString()) out.push(d);
    else if (d.isObject() && d.has("text")) out.push(jstr(d.getString("text")));
    else return null;
  }
  return out;
}

export function translateRerankRequest(client: Protocol, provider: Protocol, body: JsonValue, opts: TranslateOptions): TranslatedRequest {
  const r = startRequest(client, provider, body, opts);
  if (r.error.length > 0) return r;
  const ex = r.exchange;
  if (client == Protocol.DashScope && provider == Protocol.OpenAI) {
    // Nested {input:{query,documents},parameters:{...}} or flat {query,documents,top_n} (qwen3-rerank).
    const input = body.getObject("input");
    const params = body.getObject("parameters");
    const src = input !== null ? input : body;
    const query = src.get("query");
    const docs = documentStrings(src.get("documents"));
    if (query === null || !query.isString() || docs === null) { r.error = "query and documents: required"; return r; }
    const out = jobj().set("model", jstr(ex.model)).set("query", query).set("documents", docs);
    ex.documents = docs;
    const keys = body.keys();
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k == "model" || k == "input" || k == "parameters" || k == "query" || k == "documents") continue;
      if (k == "top_n") { const v = body.get(k); if (v !== null && !v.isNull()) out.set("top_n", v); }
      else if (k == "return_documents") ex.returnDocuments = body.getBool(k);
      else note(r.dropped, k);
    }
    if (params !== null) {
      const pk = params.keys();
      for (let i = 0; i < pk.length; i++) {
        const k = pk[i];
        const v = params.get(k);
        if (v === null || v.isNull()) continue;
        if (k == "top_n") out.set("top_n", v);
        else if (k == "return_documents") ex.returnDocuments = v.asBool();
        else note(r.dropped, "parameters." + k);
      }
    }
    r.body = jsonBytes(out);
    r.path = OPENAI_RERANK_PATH;
    return r;
  }
  if (client == Protocol.OpenAI && provider == Protocol.DashScope) {
    const query = body.get("query");
    const docs = documentStrings(body.get("documents"));
    if (query === null || !query.isString() || docs === null) { r.error = "query and documents: required"; return r; }
    ex.documents = docs;
    ex.returnDocuments = body.getBool("return_documents", true); // vLLM always returns the document text
    const flat = ex.model.startsWith("qwen3-rerank"); // sent flat, as the Dify plugin does for this model
    const out = jobj().set("model", jstr(ex.model));
    const params = jobj().set("return_documents", JsonValue.newBool(ex.returnDocuments));
    const keys = body.keys();
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = body.get(k);
      if (v === null || v.isNull() || k == "model" || k == "query" || k == "documents" || k == "return_documents") continue;
      if (k == "top_n") params.set("top_n", v);
      else note(r.dropped, k);
    }
    if (flat) {
      out.set("query", query).set("documents", docs);
      const tn = params.get("top_n");
      if (tn !== null) out.set("top_n", tn);
    } else out.set("input", jobj().set("query", query).set("documents", docs)).set("parameters", params);
    r.body = jsonBytes(out);
    r.path = DASHSCOPE_RERANK_PATH;
    return r;
  }
  r.error = "rerank cannot be translated between these protocols";
  return r;
}

/** The results, each with its document text when asked for: from upstream, else from the request. */
function writeResults(w: JsonWriter, ex: Exchange, results: JsonValue | null): void {
  w.byte(0x5B);
  if (results !== null) {
    const items = results.items();
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (!it.isObject()) continue;
      const scoreV = it.has("relevance_score") ? it.get("relevance_score") : it.get("score");
      const index = it.getInt("index", i);
      w.comma();
      w.raw("{\"index\":"); w.int(index);
      w.raw(",\"relevance_score\":"); w.num(scoreV === null ? 0.0 : scoreV.asNumber());
      if (ex.returnDocuments) {
        const doc = it.get("document");
        let text = "";
        if (doc !== null && doc.isObject() && doc.has("text")) text = doc.getString("text");
        else if (doc !== null && doc.isString()) text = doc.asString();
        else if (it.has("text")) text = it.getString("text");
        else {
          const docs = ex.documents;
          const d: JsonValue | null = docs === null || index < 0 || index > <i64>i32.MAX_VALUE ? null : docs.at(<i32>index);
          text = d === null ? "" : d.asString();
        }
        w.raw(",\"document\":{\"text\":"); w.str(text); w.byte(0x7D);
      }
      w.byte(0x7D);
    }
  }
  w.byte(0x5D);
}

export function translateRerankResponse(ex: Exchange, body: JsonValue): string {
  const w = new JsonWriter(512);
  if (ex.provider == Protocol.OpenAI) {
    // vLLM/Jina/Cohere: {results:[...]}; TEI: a bare array.
    const usage = body.isObject() ? body.getObject("usage") : null;
    const total = countAt(usage, "total_tokens");
    w.raw("{\"output\":{\"results\":");
    writeResults(w, ex, body.isArray() ? body : body.getArray("results"));
    w.raw("},\"usage\":{\"total_tokens\":"); w.int(total < 0 ? 0 : total);
    w.raw("},\"request_id\":"); w.str(body.isObject() ? body.getString("id", ex.requestId) : ex.requestId);
    w.byte(0x7D);
    return w.text();
  }
  const output = body.getObject("output");
  const total = countAt(body.getObject("usage"), "total_tokens");
  w.raw("{\"id\":"); w.str(body.getString("request_id", ex.requestId));
  w.raw(",\"model\":"); w.str(ex.model);
  w.raw(",\"usage\":{\"total_tokens\":"); w.int(total < 0 ? 0 : total);
  w.raw("},\"results\":");
  writeResults(w, ex, output === null ? body.getArray("results") : output.getArray("results"));
  w.byte(0x7D);
  return w.text();
}
