// The simulated vLLM servers of the benchmark, in a child process of their own: their CPU work (engine
// steps, HTTP, reply text) then runs on the second core instead of delaying the gateway, and the
// gateway's work does not stretch the gaps between a session's turns. Driven over the IPC channel.
// One child serves the whole benchmark (warm JIT); each run gets fresh servers with cold caches.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { RequestRecord } from "../../e2e/sim/engine.ts";
import { startVllm, type VllmSim, type VllmSimOptions } from "../../e2e/sim/vllm.ts";

export interface SimStats {
  perRequest: RequestRecord[];
  prefixQueriedTokens: number;
  prefixHitTokens: number;
  generationTokens: number;
}

type Command =
  | { id: number; cmd: "start"; count: number; options: VllmSimOptions }
  | { id: number; cmd: "origin" }
  | { id: number; cmd: "stats" }
  | { id: number; cmd: "stop" };

/** Parent side: a handle on the child and its current servers. */
export class SimFleet {
  private child: ChildProcess;
  private next = 0;
  private waiting = new Map<number, (v: any) => void>();
  ports: number[] = [];

  private constructor() {
    this.child = fork(fileURLToPath(import.meta.url), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (m: { id: number; value: unknown }) => {
      const done = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      done?.(m.value);
    });
  }

  private ask<T>(c: Omit<Command, "id">): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ ...c, id });
    });
  }

  static open(): SimFleet { return new SimFleet(); }

  /** Fresh servers (the previous ones are closed); returns their ports. */
  async start(count: number, options: VllmSimOptions): Promise<number[]> {
    this.ports = await this.ask<number[]>({ cmd: "start", count, options } as Omit<Command, "id">);
    return this.ports;
  }

  /** Every engine's simulated clock, read at one instant (also starts the busy measurement). */
  origin(): Promise<number[]> { return this.ask({ cmd: "origin" }); }
  /** Per-server statistics, and the share of real time the child's event loop was busy since origin(). */
  stats(): Promise<{ servers: SimStats[]; busy: number }> { return this.ask({ cmd: "stats" }); }

  /** Closes the servers (the child stays). */
  stop(): Promise<void> { return this.ask({ cmd: "stop" }); }

  async close(): Promise<void> {
    await this.stop();
    this.child.disconnect();
  }
}

// Child side.
if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  let sims: VllmSim[] = [];
  let since = performance.eventLoopUtilization();
  const reply = (id: number, value: unknown) => process.send!({ id, value });
  process.on("message", async (c: Command) => {
    switch (c.cmd) {
      case "start":
        await Promise.all(sims.map((s) => s.close()));
        sims = [];
        for (let i = 0; i < c.count; i++) sims.push(await startVllm(c.options));
        return reply(c.id, sims.map((s) => s.port));
      case "origin":
        since = performance.eventLoopUtilization();
        return reply(c.id, sims.map((s) => s.engine.now()));
      case "stats":
        return reply(c.id, {
          busy: performance.eventLoopUtilization(since).utilization,
          servers: sims.map((s) => {
            const st = s.stats();
            return { perRequest: st.perRequest, prefixQueriedTokens: st.prefixQueriedTokens, prefixHitTokens: st.prefixHitTokens, generationTokens: st.generationTokens };
          }),
        });
      case "stop":
        await Promise.all(sims.map((s) => s.close()));
        sims = [];
        return reply(c.id, null);
    }
  });
}
