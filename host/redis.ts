import { Socket } from "node:net";
import { RespFramer, respCommand, respCount } from "./resp.ts";

export interface RedisOptions {
  username: string;
  password: string;
  timeoutMs: number;
  db: number;
}

/** Parses the `?db=N&...` suffix Higress's redis wrapper appends to the cluster name. */
export function parseRedisCluster(cluster: string): { name: string; db: number } {
  const q = cluster.indexOf("?");
  if (q < 0) return { name: cluster, db: 0 };
  const db = Number(new URLSearchParams(cluster.slice(q + 1)).get("db") ?? 0);
  return { name: cluster.slice(0, q), db: Number.isInteger(db) && db > 0 ? db : 0 };
}

/** Status passed to proxy_on_redis_call_response (Higress RedisStatus). */
export const REDIS_OK = 0;
export const REDIS_NETWORK_ERROR = 1;

type Done = (status: number, reply: Buffer) => void;
interface Pending { expect: number; got: Buffer[]; done: Done | null; timer: NodeJS.Timeout | null }

/**
 * One connection to one Redis endpoint, like the per-worker async client Higress's Envoy keeps per
 * cluster. Replies are matched to calls in FIFO order by RESP framing. AUTH and SELECT go out first
 * on every new connection; their replies are swallowed (a failed AUTH surfaces as NOAUTH replies to
 * the plugin's own commands, which Higress's wrapper reacts to by re-running init).
 * A timeout or connection loss fails every outstanding call and drops the connection, so a late reply
 * can never be matched to the wrong call.
 */
export class RedisClient {
  private socket: Socket | null = null;
  private framer = new RespFramer();
  private pending: Pending[] = [];

  constructor(private endpoint: () => { host: string; port: number } | null, public options: RedisOptions) {}

  call(query: Buffer, done: Done): void {
    const target = this.endpoint();
    if (!target) {
      setImmediate(() => done(REDIS_NETWORK_ERROR, Buffer.alloc(0)));
      return;
    }
    if (!this.socket) this.connect(target);
    let expect = 1;
    try { expect = Math.max(1, respCount(query)); } catch { /* inline command: one reply */ }
    const p: Pending = { expect, got: [], done, timer: null };
    if (this.options.timeoutMs > 0) {
      p.timer = setTimeout(() => this.failAll(), this.options.timeoutMs);
      p.timer.unref?.();
    }
    this.pending.push(p);
    this.socket!.write(query);
  }

  close(): void { this.failAll(); }

  private connect(target: { host: string; port: number }): void {
    const s = new Socket();
    this.socket = s;
    this.framer.reset();
    s.setNoDelay(true);
    s.on("data", (chunk: Buffer) => {
      let replies: Buffer[];
      try { replies = this.framer.push(chunk); } catch { this.failAll(); return; }
      for (const r of replies) this.onReply(r);
    });
    s.on("error", () => this.failAll());
    s.on("close", () => { if (this.socket === s) this.failAll(); });
    s.connect(target.port, target.host);
    const { username, password, db } = this.options;
    if (password) this.internal(username ? respCommand("AUTH", username, password) : respCommand("AUTH", password));
    if (db) this.internal(respCommand("SELECT", db));
  }

  private internal(cmd: Buffer): void {
    this.pending.push({ expect: 1, got: [], done: null, timer: null });
    this.socket!.write(cmd);
  }

  private onReply(reply: Buffer): void {
    const p = this.pending[0];
    if (!p) return;
    p.got.push(Buffer.from(reply));
    if (p.got.length < p.expect) return;
    this.pending.shift();
    if (p.timer) clearTimeout(p.timer);
    p.done?.(REDIS_OK, Buffer.concat(p.got));
  }

  private failAll(): void {
    const s = this.socket;
    this.socket = null;
    s?.destroy();
    const failed = this.pending;
    this.pending = [];
    for (const p of failed) {
      if (p.timer) clearTimeout(p.timer);
      p.done?.(REDIS_NETWORK_ERROR, Buffer.alloc(0));
    }
  }
}
