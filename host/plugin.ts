import { readFileSync } from "node:fs";
import { type AbiVersion, type PluginIdentity, PluginVm, type TrapError, type VmServices, checkModule } from "./vm.ts";

export type Phase = "AUTHN" | "AUTHZ" | "STATS" | "UNSPECIFIED_PHASE";
export type FailStrategy = "FAIL_CLOSE" | "FAIL_OPEN";

export interface PluginOptions {
  name: string;
  /** Path to the .wasm, its bytes, or a compiled module. */
  wasm: string | Uint8Array | WebAssembly.Module;
  /** Plugin configuration: an object is sent as JSON, a string or bytes as they are. */
  config?: unknown;
  /** Higress phase; "default" is accepted for UNSPECIFIED_PHASE. */
  phase?: Phase | "default";
  /** Higher runs first within a phase. */
  priority?: number;
  /** Number of VMs (Envoy worker threads); streams are spread over them round-robin. */
  vms?: number;
  failStrategy?: FailStrategy;
  rootId?: string;
  vmConfig?: string | Uint8Array;
}

export interface Trap {
  plugin: string;
  vm: number;
  callback: string;
  message: string;
  /** What the plugin logged at error/critical level just before trapping (AssemblyScript's abort message). */
  abortMessage: string;
  time: number;
}

const PHASE_ORDER: Record<Phase, number> = { AUTHN: 0, AUTHZ: 1, STATS: 2, UNSPECIFIED_PHASE: 3 };

export class Plugin {
  readonly name: string;
  readonly phase: Phase;
  readonly priority: number;
  readonly failOpen: boolean;
  readonly identity: PluginIdentity;
  readonly abi: AbiVersion;
  readonly vms: PluginVm[] = [];
  private rr = 0;

  constructor(opts: PluginOptions, private module: WebAssembly.Module, private services: VmServices,
    private reportTrap: (t: Trap) => void, node: { id: string; cluster: string }) {
    this.name = opts.name;
    this.phase = !opts.phase || opts.phase === "default" ? "UNSPECIFIED_PHASE" : opts.phase;
    this.priority = opts.priority ?? 0;
    this.failOpen = opts.failStrategy === "FAIL_OPEN";
    this.abi = checkModule(module);
    const c = opts.config;
    const configuration = c === undefined ? Buffer.alloc(0)
      : typeof c === "string" ? Buffer.from(c) : c instanceof Uint8Array ? Buffer.from(c) : Buffer.from(JSON.stringify(c));
    this.identity = {
      name: opts.name, rootId: opts.rootId ?? "", vmId: opts.name, nodeId: node.id, nodeCluster: node.cluster,
      configuration, vmConfiguration: Buffer.from(opts.vmConfig ?? ""),
    };
  }

  static compile(wasm: PluginOptions["wasm"]): WebAssembly.Module {
    if (wasm instanceof WebAssembly.Module) return wasm;
    return new WebAssembly.Module(typeof wasm === "string" ? readFileSync(wasm) : wasm);
  }

  /** Starts every VM; throws when the plugin refuses its configuration, with its error log lines. */
  start(vmCount: number, recentErrors: () => string[]): void {
    for (let i = 0; i < vmCount; i++) {
      const vm = this.newVm(i);
      const err = vm.start();
      if (err) {
        for (const v of this.vms) v.close();
        vm.close();
        const logs = recentErrors();
        throw new Error(`plugin ${this.name}: ${err}${logs.length ? `\n${logs.join("\n")}` : ""}`);
      }
      this.vms.push(vm);
    }
  }

  /** Order key: phase first, then higher priority first. */
  static compare(a: Plugin, b: Plugin): number {
    return PHASE_ORDER[a.phase] - PHASE_ORDER[b.phase] || b.priority - a.priority;
  }

  /**
   * The VM for a new stream. A VM that trapped is replaced by a fresh, reconfigured instance first;
   * if that fails too the failed VM is returned and the stream applies the fail strategy.
   */
  pickVm(): PluginVm {
    const i = this.rr++ % this.vms.length;
    let vm = this.vms[i];
    if (vm.failed) {
      const fresh = this.newVm(i);
      if (fresh.start() === null) this.vms[i] = vm = fresh;
      else fresh.close();
    }
    return vm;
  }

  close(): void { for (const vm of this.vms) vm.close(); }

  private newVm(index: number): PluginVm {
    return new PluginVm(this.identity, index, this.abi, this.module, this.services, (vm: PluginVm, e: TrapError) => {
      this.reportTrap({
        plugin: this.name, vm: vm.index, callback: e.callback, message: e.message,
        abortMessage: e.abortMessage, time: Date.now(),
      });
    });
  }
}
