// A real redis-server for tests: started on a free loopback port, no persistence, stopped with
// SIGKILL. `down()`/`up()` restart it on the same port (Redis-down tests).
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export class RedisServer {
  private proc: ChildProcess | null = null;
  private constructor(public port: number, private args: string[]) {}

  /** `args` are extra redis-server options, e.g. ["--requirepass", "x"]. */
  static async start(args: string[] = []): Promise<RedisServer> {
    const r = new RedisServer(await freePort(), args);
    await r.up();
    return r;
  }

  async up(): Promise<void> {
    this.proc = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...this.args], { stdio: "ignore" });
    for (let i = 0; i < 200; i++) {
      if (await this.ping()) return;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error("redis-server did not start");
  }

  async down(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p) return;
    const gone = new Promise((res) => p.once("exit", res));
    p.kill("SIGKILL");
    await gone;
  }

  /** Up and answering (a password-protected server answers NOAUTH, which counts). */
  async ping(): Promise<boolean> {
    try { const r = await this.command("PING"); return r.startsWith("+PONG") || r.startsWith("-NOAUTH"); } catch { return false; }
  }

  /** One command; the raw RESP reply, once complete. */
  command(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.port, "127.0.0.1");
      let out = "";
      s.on("data", (d) => {
        out += d.toString();
        if (complete(out)) { s.end(); resolve(out); }
      });
      s.on("end", () => resolve(out));
      s.on("error", reject);
      s.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(""));
    });
  }

  async integer(...args: string[]): Promise<number> {
    const r = await this.command(...args);
    if (!r.startsWith(":")) throw new Error(`not an integer reply: ${r}`);
    return Number(r.slice(1, r.indexOf("\r\n")));
  }

  async keys(pattern: string): Promise<string[]> { return this.array("KEYS", pattern); }

  /** A command whose reply is a flat array of strings. */
  async array(...args: string[]): Promise<string[]> { return parseArray(await this.command(...args)); }
}

/** Whether a RESP reply (simple values or a flat array of bulk strings) is complete. */
function complete(s: string): boolean {
  if (!s.endsWith("\r\n")) return false;
  if (s[0] !== "*") return s[0] !== "$" || s.startsWith("$-1") || s.split("\r\n").length >= 3;
  try { parseArray(s); return true; } catch { return false; }
}

function parseArray(s: string): string[] {
  const lines = s.split("\r\n");
  const n = Number(lines[0].slice(1));
  const out: string[] = [];
  let i = 1;
  for (let k = 0; k < n; k++) {
    if (i >= lines.length - 1) throw new Error("short");
    const head = lines[i++];
    if (head.startsWith("$")) { out.push(lines[i++] ?? ""); if (i > lines.length - 1) throw new Error("short"); }
    else out.push(head.slice(1));
  }
  return out;
}
