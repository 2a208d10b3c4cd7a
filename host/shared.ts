import { WasmResult } from "./abi.ts";

/**
 * Shared key-value data and queues, scoped by vm_id (the plugin name) and common to all VMs of
 * that plugin, like proxy-wasm-cpp-host's process-wide SharedData/SharedQueue.
 */
export class SharedData {
  private data = new Map<string, Map<string, { value: Buffer; cas: number }>>();
  private cas = 1; // cpp-host: a single counter for every key; 0 is never handed out.

  get(vmId: string, key: string): { value: Buffer; cas: number } | undefined {
    return this.data.get(vmId)?.get(key);
  }

  /** cas 0 always writes; otherwise it must equal the key's current cas (a missing key always writes). */
  set(vmId: string, key: string, value: Buffer, cas: number): WasmResult {
    let map = this.data.get(vmId);
    if (!map) this.data.set(vmId, (map = new Map()));
    const cur = map.get(key);
    if (cur && cas !== 0 && cas !== cur.cas) return WasmResult.CasMismatch;
    map.set(key, { value: Buffer.from(value), cas: this.nextCas() });
    return WasmResult.Ok;
  }

  private nextCas(): number {
    const c = this.cas;
    this.cas = (this.cas + 1) >>> 0 || 1;
    return c;
  }
}

export interface QueueOwner {
  /** Called (deferred) when an item is enqueued: proxy_on_queue_ready on the registering root context. */
  notify(token: number): void;
}

export class SharedQueues {
  private tokens = new Map<string, number>();
  private queues = new Map<number, { items: Buffer[]; owner: QueueOwner }>();
  private next = 1;

  register(vmId: string, name: string, owner: QueueOwner): number {
    const key = `${vmId}\0${name}`;
    let token = this.tokens.get(key);
    if (token === undefined) this.tokens.set(key, (token = this.next++));
    const q = this.queues.get(token);
    // Re-registration moves the notification target but keeps queued items, as cpp-host does.
    this.queues.set(token, { items: q?.items ?? [], owner });
    return token;
  }

  resolve(vmId: string, name: string): number | undefined {
    return this.tokens.get(`${vmId}\0${name}`);
  }

  enqueue(token: number, value: Buffer): WasmResult {
    const q = this.queues.get(token);
    if (!q) return WasmResult.NotFound;
    q.items.push(Buffer.from(value));
    q.owner.notify(token);
    return WasmResult.Ok;
  }

  dequeue(token: number): Buffer | WasmResult {
    const q = this.queues.get(token);
    if (!q) return WasmResult.NotFound;
    return q.items.shift() ?? WasmResult.Empty;
  }
}
