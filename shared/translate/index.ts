// Protocol translation between OpenAI-compatible, Anthropic and DashScope (Bailian) APIs, as plain
// functions over parsed bodies and SSE events: the ai-proxy plugin and the fallback plugin share them.
//
//   route = detectRoute(path, body)                 which API and client protocol a request speaks
//   tr = translateRequest(route, provider, body, opts)   new body + provider path + dropped fields
//   translateResponse(tr.exchange, providerBody)    provider answer -> client answer (2xx)
//   new ChatStreamTranslator(tr.exchange)           provider SSE bytes -> client SSE text
//   translateError(client, status, providerText)    provider error -> client error body/status
import { JsonValue } from "../json";
import { Api, Exchange, Protocol, TranslateOptions, TranslatedRequest } from "./types";
import { decodeChatResponse, encodeChatResponse, translateChatRequest } from "./chat";
import { translateEmbeddingsRequest, translateEmbeddingsResponse } from "./embeddings";
import { translateRerankRequest, translateRerankResponse } from "./rerank";
import { isDashScopeImageRequest, translateImagesRequest, translateImagesResponse } from "./images";

export * from "./types";
export { ChatStreamTranslator, translateChatRequest, decodeChatResponse, encodeChatResponse } from "./chat";
export { translateError, gatewayError, decodeProviderError, encodeClientError, clientStatus } from "./errors";
export { isDashScopeImageRequest } from "./images";

export class Route {
  constructor(public api: Api, public client: Protocol, public multimodalPath: bool = false) {}
}

/** Which API a request path names, and in which protocol; Api.Unknown when none. Prefixes are allowed. */
export function detectRoute(path: string, body: JsonValue | null = null): Route {
  const q = path.indexOf("?");
  const p = q >= 0 ? path.substring(0, q) : path;
  if (p.endsWith("/chat/completions")) return new Route(Api.Chat, Protocol.OpenAI);
  if (p.endsWith("/v1/messages")) return new Route(Api.Chat, Protocol.Anthropic);
  if (p.endsWith("/services/aigc/text-generation/generation")) return new Route(Api.Chat, Protocol.DashScope);
  if (p.endsWith("/services/aigc/multimodal-generation/generation")) {
    const images = body !== null && body.isObject() && isDashScopeImageRequest(body);
    return new Route(images ? Api.Images : Api.Chat, Protocol.DashScope, true);
  }
  if (p.endsWith("/text-embedding/text-embedding")) return new Route(Api.Embeddings, Protocol.DashScope);
  if (p.endsWith("/text-rerank/text-rerank")) return new Route(Api.Rerank, Protocol.DashScope);
  if (p.endsWith("/embeddings")) return new Route(Api.Embeddings, Protocol.OpenAI);
  if (p.endsWith("/rerank") || p.endsWith("/reranks")) return new Route(Api.Rerank, Protocol.OpenAI);
  if (p.endsWith("/images/generations")) return new Route(Api.Images, Protocol.OpenAI);
  return new Route(Api.Unknown, Protocol.OpenAI);
}

/** Client request -> provider request. Same protocol on both sides is not a translation: callers pass it through. */
export function translateRequest(route: Route, provider: Protocol, body: JsonValue, opts: TranslateOptions): TranslatedRequest {
  let r: TranslatedRequest;
  if (route.api == Api.Chat) r = translateChatRequest(route.client, provider, body, opts, route.multimodalPath);
  else if (route.api == Api.Embeddings) r = translateEmbeddingsRequest(route.client, provider, body, opts);
  else if (route.api == Api.Rerank) r = translateRerankRequest(route.client, provider, body, opts);
  else if (route.api == Api.Images) r = translateImagesRequest(route.client, provider, body, opts);
  else { r = new TranslatedRequest(); r.error = "unsupported API path"; }
  r.exchange.api = route.api;
  return r;
}

/** A provider's successful (non-streamed) answer in the client's protocol. */
export function translateResponse(ex: Exchange, body: JsonValue): string {
  if (ex.api == Api.Embeddings) return translateEmbeddingsResponse(ex, body);
  if (ex.api == Api.Rerank) return translateRerankResponse(ex, body);
  if (ex.api == Api.Images) return translateImagesResponse(ex, body);
  return encodeChatResponse(decodeChatResponse(ex.provider, body), ex);
}
