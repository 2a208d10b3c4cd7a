// Image generation: DashScope multimodal-generation (qwen-image, as the Higress Dify plugin sends it)
// <-> OpenAI /v1/images/generations.
// Shapes follow https://www.alibabacloud.com/help/en/model-studio/qwen-image-api (input.messages[0].content[].text,
// parameters.size "W*H", output.choices[0].message.content[].image, usage.{width,height,image_count}) and
// https://platform.openai.com/docs/api-reference/images/create ({prompt,n,size "WxH"} -> {created,data[].url|b64_json}).
import { JsonValue } from "../json";
import { Exchange, Protocol, TranslateOptions, TranslatedRequest, note, startRequest } from "./types";
import { JsonWriter, jsonBytes } from "./writer";
import { jarr, jobj, jstr, startsWithAny, arrAt } from "./util";
import { DASHSCOPE_MULTIMODAL_PATH } from "./chat_dashscope";

export const OPENAI_IMAGES_PATH = "/v1/images/generations";

const IMAGE_MODELS: string[] = ["qwen-image", "wanx", "wan2", "flux", "stable-diffusion"];
const IMAGE_PARAMS: string[] = ["size", "negative_prompt", "prompt_extend", "watermark"];

/** The multimodal endpoint serves both vision chat and image generation; tell them apart by model or parameters. */
export function isDashScopeImageRequest(body: JsonValue): bool {
  if (startsWithAny(body.getString("model"), IMAGE_MODELS)) return true;
  const p = body.getObject("parameters");
  if (p === null) return false;
  for (let i = 0; i < IMAGE_PARAMS.length; i++) if (p.has(IMAGE_PARAMS[i])) return true;
  return false;
}

export function translateImagesRequest(client: Protocol, provider: Protocol, body: JsonValue, opts: TranslateOptions): TranslatedRequest {
  const r = startRequest(client, provider, body, opts);
  if (r.error.length > 0) return r;
  const ex = r.exchange;
  if (client == Protocol.DashScope && provider == Protocol.OpenAI) {
    let prompt = "";
    const input = body.getObject("input");
    const msgs = arrAt(input, "messages");
    const items = msgs === null ? [] as JsonValue[] : msgs.items();
    for (let i = 0; i < items.length; i++) {
      const c = items[i].get("content");
      if (c !== null && c.isString()) { prompt += (prompt.length ? "\n" : "") + c.asString(); continue; }
      const parts = c === null ? [] as JsonValue[] : c.items();
      for (let j = 0; j < parts.length; j++) {
        const p = parts[j];
        if (p.has("text")) prompt += (prompt.length ? "\n" : "") + p.getString("text");
        else { r.error = "input images (image editing) cannot be sent to /v1/images/generations"; return r; }
      }
    }
    if (prompt.length == 0) { r.error = "input.messages: a text prompt is required"; return r; }
    const out = jobj().set("model", jstr(ex.model)).set("prompt", jstr(prompt));
    const params = body.getObject("parameters");
    if (params !== null) {
      const keys = params.keys();
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const v = params.get(k);
        if (v === null || v.isNull()) continue;
        if (k == "size") { ex.imageSize = v.asString(); out.set("size", jstr(ex.imageSize.replace("*", "x"))); }
        else if (k == "n") out.set("n", v);
        // Defaults that OpenAI's behaviour already matches carry no meaning to lose.
        else if (k == "negative_prompt" && v.asString().length == 0) continue;
        else if (k == "watermark" && !v.asBool()) continue;
        else note(r.dropped, "parameters." + k);
      }
    }
    r.body = jsonBytes(out);
    r.path = OPENAI_IMAGES_PATH;
    return r;
  }
  if (client == Protocol.OpenAI && provider == Protocol.DashScope) {
    const prompt = body.get("prompt");
    if (prompt === null || !prompt.isString()) { r.error = "prompt: required string"; return r; }
    const params = jobj();
    const keys = body.keys();
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = body.get(k);
      if (v === null || v.isNull() || k == "model" || k == "prompt") continue;
      if (k == "size") {
        const s = v.asString();
        if (s != "auto") { ex.imageSize = s.replace("x", "*"); params.set("size", jstr(ex.imageSize)); }
      } else if (k == "n") params.set("n", v);
      else if (k == "response_format") {
        if (v.asString() == "b64_json") { r.error = "response_format b64_json: this provider returns image URLs only"; return r; }
      } else note(r.dropped, k);
    }
    const out = jobj().set("model", jstr(ex.model)).set("input", jobj().set("messages", jarr().push(
      jobj().set("role", jstr("user")).set("content", jarr().push(jobj().set("text", prompt))))));
    if (params.keys().length) out.set("parameters", params);
    r.body = jsonBytes(out);
    r.path = DASHSCOPE_MULTIMODAL_PATH;
    return r;
  }
  r.error = "image generation cannot be translated between these protocols";
  return r;
}

function sizePart(size: string, which: i32): string {
  const star = size.indexOf("*");
  if (star <= 0) return "0";
  const s = which == 0 ? size.substring(0, star) : size.substring(star + 1);
  for (let i = 0; i < s.length; i++) { const c = s.charCodeAt(i); if (c < 48 || c > 57) return "0"; }
  return s.length ? s : "0";
}

/** {"<key>":url} into a list. */
function urlItem(w: JsonWriter, key: string, url: string): void {
  w.comma();
  w.byte(0x7B);
  w.str(key);
  w.byte(0x3A);
  w.str(url);
  w.byte(0x7D);
}

export function translateImagesResponse(ex: Exchange, body: JsonValue): string {
  const w = new JsonWriter(512);
  if (ex.provider == Protocol.OpenAI) {
    w.raw("{\"output\":{\"choices\":[{\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\",\"content\":[");
    const data = body.getArray("data");
    let count = 0;
    if (data !== null) {
      const items = data.items();
      for (let i = 0; i < items.length; i++) {
        const d = items[i];
        // gpt-image models answer only in base64: hand it over as a data URL, which is still a URL.
        const url = d.getString("url").length ? d.getString("url") : d.getString("b64_json").length ? "data:image/png;base64," + d.getString("b64_json") : "";
        if (url.length == 0) continue;
        urlItem(w, "image", url);
        count++;
      }
    }
    w.raw("]}}]},\"usage\":{\"width\":"); w.raw(sizePart(ex.imageSize, 0));
    w.raw(",\"height\":"); w.raw(sizePart(ex.imageSize, 1));
    w.raw(",\"image_count\":"); w.int(count);
    w.raw("},\"request_id\":"); w.str(ex.requestId);
    w.byte(0x7D);
    return w.text();
  }
  w.raw("{\"created\":"); w.int(ex.created);
  w.raw(",\"data\":[");
  const output = body.getObject("output");
  const choices = arrAt(output, "choices");
  if (choices !== null) {
    const cs = choices.items();
    for (let i = 0; i < cs.length; i++) {
      const parts = arrAt(cs[i].getObject("message"), "content");
      if (parts === null) continue;
      const ps = parts.items();
      for (let j = 0; j < ps.length; j++) {
        const url = ps[j].getString("image");
        if (url.length) urlItem(w, "url", url);
      }
    }
  }
  const results = arrAt(output, "results"); // wanx task results
  if (results !== null) {
    const rs = results.items();
    for (let i = 0; i < rs.length; i++) {
      const url = rs[i].getString("url");
      if (url.length) urlItem(w, "url", url);
    }
  }
  w.raw("]}");
  return w.text();
}
