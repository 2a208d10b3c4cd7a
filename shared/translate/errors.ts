// Errors: provider error bodies -> ApiError -> the client protocol's error body and status.
// Shapes follow https://platform.openai.com/docs/guides/error-codes ({error:{message,type,param,code}}),
// https://docs.anthropic.com/en/api/errors ({type:"error",error:{type,message}}) and
// https://www.alibabacloud.com/help/en/model-studio/error-code ({code,message,request_id}).
import { jsonNumber, parseJson } from "../json";
import { ApiError, ClientError, Protocol } from "./types";
import { anthropicErrorStatus, writeAnthropicError } from "./chat_anthropic";
import { writeOpenAIError } from "./chat_openai";
import { writeDashScopeError } from "./chat_dashscope";
import { JsonWriter } from "./writer";

const MAX_RAW_MESSAGE = 512;

/** Reads any of the three error shapes (whatever the provider claims to be) plus plain text. */
export function decodeProviderError(status: i32, text: string): ApiError {
  const body = parseJson(text);
  if (body !== null && body.isObject()) {
    const err = body.get("error");
    if (err !== null && err.isObject()) {
      const kind = err.getString("type");
      const code = err.get("code");
      const codeStr = code === null ? "" : code.isString() ? code.asString() : code.isNumber() ? jsonNumber(code.asNumber()) : "";
      // Anthropic names the error kind in type; keep it only where it is Anthropic's vocabulary.
      const msg = err.getString("message");
      return new ApiError(status, msg.length ? msg : "upstream error", codeStr, body.getString("type") == "error" ? kind : "");
    }
    if (err !== null && err.isString()) return new ApiError(status, err.asString());
    const code = body.getString("code");
    const msg = body.getString("message");
    if (code.length || msg.length) return new ApiError(status, msg.length ? msg : code, code);
  }
  const trimmed = text.length > MAX_RAW_MESSAGE ? text.substring(0, MAX_RAW_MESSAGE) : text;
  return new ApiError(status, trimmed.length ? trimmed : "upstream returned HTTP " + status.toString());
}

/** The status a client of `client` sees: 529 is Anthropic's own; others know it as 503. */
export function clientStatus(client: Protocol, status: i32): i32 {
  if (status == 529 && client != Protocol.Anthropic) return 503;
  if (status < 400 || status > 599) return 502;
  return status;
}

export function encodeClientError(client: Protocol, err: ApiError, requestId: string = ""): ClientError {
  let status = err.status;
  if (err.kind.length && status == 200) status = anthropicErrorStatus(err.kind);
  status = clientStatus(client, status);
  const w = new JsonWriter(128);
  if (client == Protocol.Anthropic) writeAnthropicError(w, status, err.message);
  else if (client == Protocol.DashScope) {
    // DashScope codes are dotted words (Throttling.RateQuota); other providers' codes mean nothing to its clients.
    const dsCode = err.code.length && err.code.charCodeAt(0) >= 65 && err.code.charCodeAt(0) <= 90 ? err.code : "";
    writeDashScopeError(w, status, err.message, dsCode, requestId);
  } else writeOpenAIError(w, status, err.message, err.code);
  return new ClientError(status, w.text());
}

/** A provider error response translated for the client. */
export function translateError(client: Protocol, status: i32, text: string, requestId: string = ""): ClientError {
  return encodeClientError(client, decodeProviderError(status, text), requestId);
}

/** An error the gateway itself raises (bad request body, unknown route) in the client's shape. */
export function gatewayError(client: Protocol, status: i32, message: string, requestId: string = ""): ClientError {
  return encodeClientError(client, new ApiError(status, message), requestId);
}

