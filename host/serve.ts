import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Pairs } from "./abi.ts";
import type { Host } from "./host.ts";

export interface Served {
  server: http.Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"]);

/**
 * Serves a Host over real HTTP/1.1: each request becomes a stream, the response streams back as the
 * encoder chain releases it (SSE included), and a client that disconnects early aborts the stream so
 * plugins still get proxy_on_log/done/delete.
 */
export async function serve(host: Host, opts: { port?: number; hostname?: string } = {}): Promise<Served> {
  const server = http.createServer((req, res) => {
    const headers: Pairs = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i].toLowerCase(), req.rawHeaders[i + 1]]);
    const s = host.stream({
      method: req.method, path: req.url, authority: req.headers.host ?? "localhost",
      headers: headers.filter(([k]) => !HOP_BY_HOP.has(k)),
      source: `${req.socket.remoteAddress ?? "127.0.0.1"}:${req.socket.remotePort ?? 0}`,
      protocol: `HTTP/${req.httpVersion}`,
    });
    let pending: { status: number; headers: Pairs } | null = null;
    let buffered: Buffer[] = [];
    let ended = false;
    // Response headers go out one turn late: a body that is complete by then gets its true
    // content-length; a still-streaming one goes chunked (a stale content-length would break it).
    const flushHead = () => {
      if (!pending || res.headersSent) return;
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of pending.headers) {
        if (k.startsWith(":") || HOP_BY_HOP.has(k) || k === "content-length") continue;
        out[k] = k in out ? ([] as string[]).concat(out[k], v) : v;
      }
      if (ended) out["content-length"] = String(buffered.reduce((n, b) => n + b.length, 0));
      res.writeHead(pending.status, out);
      for (const b of buffered) res.write(b);
      buffered = [];
      if (ended) res.end();
    };
    s.listen({
      headers: (status, h, eos) => {
        pending = { status, headers: h };
        ended = eos;
        setImmediate(flushHead);
      },
      data: (chunk, eos) => {
        ended ||= eos;
        if (!res.headersSent) { if (chunk.length) buffered.push(chunk); return; }
        if (chunk.length) res.write(chunk);
        if (eos) res.end();
      },
      trailers: () => {
        ended = true;
        if (res.headersSent) res.end();
      },
      end: (reset) => {
        if (reset) res.destroy();
      },
    });
    const hasBody = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
    s.sendHeaders(!hasBody);
    if (hasBody) {
      // Like Envoy's HTTP/1 codec, the last chunk carries end_stream when it arrives with the end of
      // the message: a chunk is held for one turn to see whether the end follows.
      let held: Buffer | null = null;
      const flush = () => { if (held) { s.sendData(held, false); held = null; } };
      req.on("data", (chunk: Buffer) => {
        flush();
        held = chunk;
        setImmediate(flush);
      });
      req.on("end", () => {
        const last = held ?? Buffer.alloc(0);
        held = null;
        s.sendData(last, true);
      });
    }
    res.on("close", () => { if (!s.done) s.abort(); });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.hostname ?? "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server, port, url: `http://${opts.hostname ?? "127.0.0.1"}:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
