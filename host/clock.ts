/** Time source for proxy_get_current_time_nanoseconds, request.time and ticks. */
export interface Clock {
  nowNs(): bigint;
  /** True when time only moves through advance(): the host then fires ticks only on request. */
  readonly manual: boolean;
}

export const realClock: Clock = {
  manual: false,
  nowNs: () => BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n),
};

/** A clock for tests: starts at `startMs` (epoch ms) and moves only when advanced. */
export class ManualClock implements Clock {
  readonly manual = true;
  private ns: bigint;
  constructor(startMs = 1_700_000_000_000) { this.ns = BigInt(startMs) * 1_000_000n; }
  nowNs(): bigint { return this.ns; }
  nowMs(): number { return Number(this.ns / 1_000_000n); }
  advance(ms: number): void { this.ns += BigInt(Math.round(ms * 1_000_000)); }
}
