export { Host, type HostOptions, type LogEntry, type RequestInit } from "./host.ts";
export { ManualClock, realClock, type Clock } from "./clock.ts";
export { HeaderMap } from "./headers.ts";
export type { PluginOptions, Trap, Phase, FailStrategy } from "./plugin.ts";
export type { HostResponse, HttpStream, ResponseListener, RouteConfig, RouteMatch, StreamInit, UpstreamRecord } from "./stream.ts";
export type { ClusterConfig, EndpointConfig, UpstreamHandler, UpstreamRequest, UpstreamResponse } from "./upstream.ts";
export { LogLevel, WasmResult, encodePairs, decodePairs, type Pairs } from "./abi.ts";
export { serve, type Served } from "./serve.ts";
