// What every plugin's root context needs: configuration parsed the Higress way, and error replies.
import { RootContext } from "./proxy/context";
import { Header, sendLocalResponse, logWarn } from "./proxy/hostcalls";
import { ConfigError, ConfigParser, RouteConfig, parseRouteConfig } from "./config";
import { jsonQuote } from "./json";

/** A root context whose plugin config (global + `_rules_`) is parsed into C at configure time. */
export abstract class PluginRoot<C> extends RootContext {
  config: RouteConfig<C> | null = null;

  abstract parser(): ConfigParser<C>;
  /** Runs after a config was accepted: build indexes, define metrics, start ticks. */
  onConfigured(): void {}

  onConfigure(text: string): bool {
    const err = new ConfigError();
    const cfg = parseRouteConfig<C>(text, this.parser(), err);
    if (cfg == null) return false;   // parseRouteConfig logged "config error: <field>: <why>"
    this.config = cfg;
    this.onConfigured();
    return true;
  }

  /** The config for the current request (call in onRequestHeaders); null: the plugin stays out of it. */
  configForRequest(): C | null {
    const c = this.config;
    return c == null ? null : c.current();
  }
}

/** An OpenAI-style error body: {"error":{"message","type","code"}} — what AI clients (and Dify) display. */
export function errorBody(message: string, type: string, code: string): string {
  return "{\"error\":{\"message\":" + jsonQuote(message) + ",\"type\":" + jsonQuote(type) + ",\"code\":" + jsonQuote(code) + "}}";
}

/** Ends the request with a JSON error reply and a log line; `details` names the plugin's reason (code_details). */
export function replyError(status: u32, message: string, type: string, code: string, headers: Header[] = [], details: string = ""): void {
  const h = headers.slice(0);
  h.push(new Header("content-type", "application/json"));
  logWarn("reply " + status.toString() + " " + code + ": " + message);
  sendLocalResponse(status, errorBody(message, type, code), h, details.length ? details : code);
}
