// Embeddings: OpenAI /v1/embeddings <-> DashScope text-embedding.
// Shapes follow https://platform.openai.com/docs/api-reference/embeddings/create and
// https://www.alibabacloud.com/help/en/model-studio/text-embedding-synchronous-api (DashScope section).
import { JsonValue, jsonQuote } from "../json";
import { base64Decode, base64Encode } from "../crypto";
import { Exchange, Protocol, TranslateOptions, TranslatedRequest, note } from "./types";
import { jsonBytes } from "./writer";
import { countAt, jarr, jobj, jstr, valAt, arrAt } from "./util";

export const OPENAI_EMBEDDINGS_PATH = "/v1/embeddings";
export const DASHSCOPE_EMBEDDINGS_PATH = "/api/v1/services/embeddings/text-embedding/text-embedding";

export function translateEmbeddingsRequest(client: Protocol, provider: Protocol, body: JsonValue, opts: TranslateOptions): TranslatedRequest {
  const r = new TranslatedRequest();
  const ex = r.exchange;
  ex.client = client;
  ex.provider = provider;
  ex.created = opts.created;
  ex.requestId = opts.requestId;
  ex.model = body.getString("model");
  if (!body.isObject()) { r.error = "request body must be a JSON object"; return r; }
  if (client == Protocol.OpenAI && provider == Protocol.DashScope) {
    const input = body.get("input");
    const texts = jarr();
    if (input !== null && input.isString()) texts.push(input);
    else if (input !== null && input.isArray()) {
      const items = input.items();
      for (let i = 0; i < items.length; i++) {
        if (!items[i].isString()) { r.error = "input: only strings can be embedded by this provider (token ids cannot)"; return r; }
        texts.push(items[i]);
      }
    } else { r.error = "input: required string or array of strings"; return r; }
    const params = jobj();
    const keys = body.keys();
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = body.get(k);
      if (v === null || v.isNull() || k == "model" || k == "input") continue;
      if (k == "dimensions") params.set("dimension", v);
      else if (k == "encoding_format") ex.base64 = v.asString() == "base64"; // re-encoded on the way back
      else note(r.dropped, k);
    }
    const out = jobj().set("model", jstr(ex.model)).set("input", jobj().set("texts", texts));
    if (params.keys().length) out.set("parameters", params);
    r.body = jsonBytes(out);
    r.path = DASHSCOPE_EMBEDDINGS_PATH;
    return r;
  }
  if (client == Protocol.DashScope && provider == Protocol.OpenAI) {
    const input = body.getObject("input");
    const texts = valAt(input, "texts");
    if (texts === null || !(texts.isArray() || texts.isString())) { r.error = "input.texts: required array of strings"; return r; }
    const out = jobj().set("model", jstr(ex.model)).set("input", texts);
    const params = body.getObject("parameters");
    if (params !== null) {
      const keys = params.keys();
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const v = params.get(k);
        if (v === null || v.isNull()) continue;
        if (k == "dimension") out.set("dimensions", v);
        else if (k == "output_type" && v.asString() == "dense") continue;
        else note(r.dropped, "parameters." + k);
      }
    }
    r.body = jsonBytes(out);
    r.path = OPENAI_EMBEDDINGS_PATH;
    return r;
  }
  r.error = "embeddings cannot be translated between these protocols";
  return r;
}

/** OpenAI's base64 embedding: the float32 little-endian bytes of the vector. */
function base64Floats(vec: JsonValue): string {
  const items = vec.items();
  const bytes = new Uint8Array(items.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < items.length; i++) view.setFloat32(i * 4, <f32>items[i].asNumber(), true);
  return jsonQuote(base64Encode(bytes));
}

function floatsFromBase64(s: string): string {
  const bytes = base64Decode(s);
  if (bytes === null) return "[]";
  const view = new DataView(bytes.buffer);
  let out = "[";
  for (let i = 0; i + 4 <= bytes.length; i += 4) out += (i ? "," : "") + JsonValue.newNumber(<f64>view.getFloat32(i, true)).toString();
  return out + "]";
}

/** Vector as JSON text; base64 strings from upstream become number arrays. */
function vectorJson(v: JsonValue | null): string {
  if (v === null) return "[]";
  if (v.isString()) return floatsFromBase64(v.asString());
  return v.toString();
}

export function translateEmbeddingsResponse(ex: Exchange, body: JsonValue): string {
  if (ex.provider == Protocol.DashScope) {
    const output = body.getObject("output");
    const embs = arrAt(output, "embeddings");
    let data = "";
    if (embs !== null) {
      const items = embs.items();
      for (let i = 0; i < items.length; i++) {
        const e = items[i];
        const vec = e.get("embedding");
        const vj = vec === null ? "[]" : ex.base64 && vec.isArray() ? base64Floats(vec) : vectorJson(vec);
        data += (i ? "," : "") + "{\"object\":\"embedding\",\"index\":" + e.getInt("text_index", i).toString() + ",\"embedding\":" + vj + "}";
      }
    }
    const total = countAt(body.getObject("usage"), "total_tokens");
    const t = (total < 0 ? 0 : total).toString();
    return "{\"object\":\"list\",\"data\":[" + data + "],\"model\":" + jsonQuote(ex.model) +
      ",\"usage\":{\"prompt_tokens\":" + t + ",\"total_tokens\":" + t + "}}";
  }
  const data = body.getArray("data");
  let embs = "";
  if (data !== null) {
    const items = data.items();
    for (let i = 0; i < items.length; i++) {
      const e = items[i];
      embs += (i ? "," : "") + "{\"text_index\":" + e.getInt("index", i).toString() + ",\"embedding\":" + vectorJson(e.get("embedding")) + "}";
    }
  }
  const usage = body.getObject("usage");
  let total = countAt(usage, "total_tokens");
  if (total < 0) total = countAt(usage, "prompt_tokens");
  return "{\"output\":{\"embeddings\":[" + embs + "]},\"usage\":{\"total_tokens\":" + (total < 0 ? 0 : total).toString() +
    "},\"request_id\":" + jsonQuote(body.getString("id", ex.requestId)) + "}";
}
