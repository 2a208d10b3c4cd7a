// A small Redis client over Higress's redis host calls (proxy_redis_init / proxy_redis_call), shaped like
// wasm-go's RedisClusterClient so plugin configs mean the same thing:
// - the cluster is Envoy's `outbound|<port>||<service_name>` (the port defaults to 80 for `.static`
//   services, else 6379);
// - init passes `<cluster>?db=<n>` when a database is chosen, calls use the bare cluster name;
// - a `NOAUTH` reply (Redis restarted with a password, connection re-established) re-runs init and
//   retries the command once;
// - scripts go by EVALSHA first and fall back to EVAL on NOSCRIPT (RespScript caches the SHA-1).
// Replies arrive parsed (shared/resp.ts). A reply is dropped if the stream that sent the command ended.
//
//   const redis = RedisClient.forService("redis.static", 0, "", "", 1000, 0);
//   redis.init();                                       // at configure time
//   redis.call(["INCR", "k"], cb);                     // cb.onReply(reply, "") or (null, "why")
//   redis.evalScript(SCRIPT, [key], [arg], cb);
import { RedisCallback, redisCall, currentStreamId, actOnStream } from "./proxy/context";
import { redisInit, logWarn } from "./proxy/hostcalls";
import { WasmResult } from "./proxy/abi";
import { RespScript, RespValue, respCommand, parseResp, respError, isNoScript } from "./resp";

export { RespScript as Script } from "./resp";

/** Receives one reply: `reply` is null when the call failed (`error` says why: network, timeout, parse). */
export abstract class RedisReply {
  abstract onReply(reply: RespValue | null, error: string): void;
}

/** Higress's default port for a Redis service name. */
export function defaultRedisPort(serviceName: string): i32 {
  return serviceName.endsWith(".static") ? 80 : 6379;
}

/** Envoy's cluster name for a service, as wasm-go's FQDNCluster builds it. */
export function fqdnCluster(serviceName: string, port: i32): string {
  return "outbound|" + port.toString() + "||" + serviceName;
}

export class RedisClient {
  /** Whether the last init succeeded; calls re-try init while it is false. */
  ready: bool = false;

  constructor(
    public cluster: string,
    public user: string,
    public password: string,
    public timeoutMs: u32,
    public database: i32,
  ) {}

  /** A client for `service_name` / `service_port` (0: Higress's default port) as configs name them. */
  static forService(serviceName: string, port: i32, user: string, password: string, timeoutMs: u32, database: i32): RedisClient {
    return new RedisClient(fqdnCluster(serviceName, port > 0 ? port : defaultRedisPort(serviceName)), user, password, timeoutMs, database);
  }

  /** The name passed to proxy_redis_init: the cluster plus `?db=<n>` when a database is chosen. */
  initName(): string {
    return this.database != 0 ? this.cluster + "?db=" + this.database.toString() : this.cluster;
  }

  /** Registers the connection settings with the host; false when it refused (calls will retry). */
  init(): bool {
    this.ready = redisInit(this.initName(), this.user, this.password, this.timeoutMs) == WasmResult.Ok;
    if (!this.ready) logWarn("redis init failed for " + this.cluster + "; will retry on the next call");
    return this.ready;
  }

  /** Sends a command; false when it could not be dispatched (the callback will not run). */
  call(args: string[], cb: RedisReply): bool {
    return this.send(respCommand(args), null, cb);
  }

  /** Runs a Lua script by digest, re-sending it with EVAL once if Redis does not have it cached. */
  evalScript(script: RespScript, keys: string[], args: string[], cb: RedisReply): bool {
    return this.send(script.evalSha(keys, args), new ScriptRetry(script, keys, args), cb);
  }

  send(query: ArrayBuffer, script: ScriptRetry | null, cb: RedisReply): bool {
    if (!this.ready && !this.init()) return false;
    return redisCall(this.cluster, query, new Pending(this, query, script, cb, true, currentStreamId()), true);
  }
}

/** What to send instead when EVALSHA finds no cached script. */
class ScriptRetry {
  constructor(public script: RespScript, public keys: string[], public args: string[]) {}
}

class Pending extends RedisCallback {
  constructor(
    public client: RedisClient,
    public query: ArrayBuffer,
    public script: ScriptRetry | null,
    public cb: RedisReply,
    public mayReauth: bool,
    /** The stream that sent the command: retries run even after it ended, its callback only while it lives. */
    public owner: u32,
  ) { super(); }

  onRedisResponse(status: u32, data: ArrayBuffer): void {
    if (status != 0) { this.deliver(null, "redis unreachable (status " + status.toString() + ")"); return; }
    const reply = parseResp(data);
    if (reply == null) { this.deliver(null, "bad redis reply: " + respError()); return; }
    if (reply.isError()) {
      if (this.mayReauth && reply.str.startsWith("NOAUTH") && this.client.init()) {
        // Same command once more on a re-initialised connection; a second NOAUTH is reported.
        if (redisCall(this.client.cluster, this.query, new Pending(this.client, this.query, this.script, this.cb, false, this.owner), true)) return;
      }
      const s = this.script;
      if (s != null && isNoScript(reply)) {
        const q = s.script.eval(s.keys, s.args);
        if (redisCall(this.client.cluster, q, new Pending(this.client, q, null, this.cb, this.mayReauth, this.owner), true)) return;
      }
    }
    this.deliver(reply, "");
  }

  private deliver(reply: RespValue | null, error: string): void {
    if (actOnStream(this.owner)) this.cb.onReply(reply, error);
  }
}
