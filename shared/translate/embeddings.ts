// Embeddings: OpenAI /v1/embeddings <-> DashScope text-embedding.
// Shapes follow https://platform.openai.com/docs/api-reference/embeddings/create and
// https://www.alibabacloud.com/help/en/model-studio/text-embedding-synchronous-api (DashScope section).
import { JsonValue } from "../json";
import { base64Decode, base64Encode } from "../crypto";
import { Exchange, Protocol, TranslateOptions, TranslatedRequest, note, startRequest } from "./types";
import { JsonWriter, jsonBytes } from "./writer";
import { countAt, jarr, jobj, jstr, valAt, arrAt } from "./util";

export const OPENAI_EMBEDDINGS_PATH = "/v1/embeddings";
export const DASHSCOPE_EMBEDDINGS_PATH = "/api/v1/services/embeddings/text-embedding/text-embedding";

export function translateEmbeddingsRequest(client: Protocol, provider: Protocol, body: JsonValue, opts: TranslateOptions): TranslatedRequest {
  const r = startRequest(client, provider, body, opts);
  if (r.error.length > 0) return r;
  const ex = r.exchange;
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

/** OpenAI's base64 embedding: the float32 little-endian bytes of the vector, as a JSON string. */
function writeBase64Floats(w: JsonWriter, vec: JsonValue): void {
  const items = vec.items();
  const bytes = new Uint8Array(items.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < items.length; i++) view.setFloat32(i * 4, <f32>items[i].asNumber(), true);
  w.str(base64Encode(bytes));
}

/** A vector; base64 strings from upstream become number arrays. */
function writeVector(w: JsonWriter, v: JsonValue | null): void {
  if (v === null) { w.raw("[]"); return; }
  if (!v.isString()) { w.value(v); return; }
  w.byte(0x5B);
  const bytes = base64Decode(v.asString());
  if (bytes !== null) {
    const view = new DataView(bytes.buffer);
    for (let i = 0; i + 4 <= bytes.length; i += 4) { w.comma(); w.num(<f64>view.getFloat32(i, true)); }
  }
  w.byte(0x5D);
}

export function translateEmbeddingsResponse(ex: Exchange, body: JsonValue): string {
  const w = new JsonWriter(1024);
  if (ex.provider == Protocol.DashScope) {
    w.raw("{\"object\":\"list\",\"data\":[");
    const embs = arrAt(body.getObject("output"), "embeddings");
    if (embs !== null) {
      const items = embs.items();
      for (let i = 0; i < items.length; i++) {
        const e = items[i];
        w.comma();
        w.raw("{\"object\":\"embedding\",\"index\":");
        w.int(e.getInt("text_index", i));
        w.raw(",\"embedding\":");
        const vec = e.get("embedding");
        if (vec !== null && ex.base64 && vec.isArray()) writeBase64Floats(w, vec);
        else writeVector(w, vec);
        w.byte(0x7D);
      }
    }
    const total = countAt(body.getObject("usage"), "total_tokens");
    w.raw("],\"model\":"); w.str(ex.model);
    w.raw(",\"usage\":{\"prompt_tokens\":"); w.int(total < 0 ? 0 : total);
    w.raw(",\"total_tokens\":"); w.int(total < 0 ? 0 : total);
    w.raw("}}");
    return w.text();
  }
  w.raw("{\"output\":{\"embeddings\":[");
  const data = body.getArray("data");
  if (data !== null) {
    const items = data.items();
    for (let i = 0; i < items.length; i++) {
      const e = items[i];
      w.comma();
      w.raw("{\"text_index\":"); w.int(e.getInt("index", i));
      w.raw(",\"embedding\":"); writeVector(w, e.get("embedding"));
      w.byte(0x7D);
    }
  }
  const usage = body.getObject("usage");
  let total = countAt(usage, "total_tokens");
  if (total < 0) total = countAt(usage, "prompt_tokens");
  w.raw("]},\"usage\":{\"total_tokens\":"); w.int(total < 0 ? 0 : total);
  w.raw("},\"request_id\":"); w.str(body.getString("id", ex.requestId));
  w.byte(0x7D);
  return w.text();
}
