// Per-target circuit breaker. The state lives in proxy-wasm shared data, so every VM (Envoy worker) of
// a gateway sees the same circuits; updates are CAS loops (shared/kv.ts).
//
//   Closed ──(threshold consecutive failures)──▶ Open ──(open_ms elapsed)──▶ HalfOpen
//   HalfOpen: up to `probes` requests go through; all succeed ▶ Closed, any fails ▶ Open again.
//
// The request path reads one shared-data key per target; it writes only on a change (a failure, the
// first success after failures, a probe), so a healthy target costs no CAS.
import { KvStatus, KvUpdate, decodeI64s, encodeI64s, kvGet, kvUpdate } from "../../shared/kv";

export const enum CircuitState { Closed = 0, Open = 1, HalfOpen = 2 }
export const enum Admission { Pass = 0, Probe = 1, Reject = 2 }

export class CircuitParams {
  /** Consecutive failures that open the circuit; 0 disables circuit breaking. */
  threshold: i32 = 5;
  openMs: i64 = 30000;
  /** Requests let through in half-open; that many successes close the circuit. */
  probes: i32 = 1;
  /** A probe without an outcome after this long frees its slot (its stream or VM vanished). */
  probeTimeoutMs: i64 = 60000;
}

const FIELDS = 6;

export class CircuitRecord {
  state: CircuitState = CircuitState.Closed;
  failures: i64 = 0;
  openUntil: i64 = 0;
  probesInFlight: i64 = 0;
  probeSuccesses: i64 = 0;
  lastProbeAt: i64 = 0;

  static decode(b: ArrayBuffer | null): CircuitRecord {
    const f = decodeI64s(b, FIELDS);
    const r = new CircuitRecord();
    const s = unchecked(f[0]);
    r.state = s == 1 ? CircuitState.Open : s == 2 ? CircuitState.HalfOpen : CircuitState.Closed;
    r.failures = unchecked(f[1]);
    r.openUntil = unchecked(f[2]);
    r.probesInFlight = unchecked(f[3]);
    r.probeSuccesses = unchecked(f[4]);
    r.lastProbeAt = unchecked(f[5]);
    return r;
  }

  encode(): ArrayBuffer {
    const f = new StaticArray<i64>(FIELDS);
    unchecked(f[0] = <i64>this.state);
    unchecked(f[1] = this.failures);
    unchecked(f[2] = this.openUntil);
    unchecked(f[3] = this.probesInFlight);
    unchecked(f[4] = this.probeSuccesses);
    unchecked(f[5] = this.lastProbeAt);
    return encodeI64s(f);
  }

  private open(p: CircuitParams, now: i64): void {
    this.state = CircuitState.Open;
    this.openUntil = now + p.openMs;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
  }

  private close(): void {
    this.state = CircuitState.Closed;
    this.failures = 0;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
  }

  /** May a request go to this target now? Probe: it is one of the half-open trial requests. */
  admit(p: CircuitParams, now: i64): Admission {
    if (p.threshold <= 0 || this.state == CircuitState.Closed) return Admission.Pass;
    if (this.state == CircuitState.Open) {
      if (now < this.openUntil) return Admission.Reject;
      this.state = CircuitState.HalfOpen;
      this.probesInFlight = 0;
      this.probeSuccesses = 0;
    }
    if (this.probesInFlight > 0 && now - this.lastProbeAt > p.probeTimeoutMs) this.probesInFlight = 0;
    if (this.probesInFlight + this.probeSuccesses >= <i64>p.probes) return Admission.Reject;
    this.probesInFlight++;
    this.lastProbeAt = now;
    return Admission.Probe;
  }

  /** The outcome of a request that was admitted (as a probe or not). */
  report(p: CircuitParams, now: i64, ok: bool, probe: bool): void {
    if (p.threshold <= 0) return;
    if (probe && this.state == CircuitState.HalfOpen) {
      if (this.probesInFlight > 0) this.probesInFlight--;
      if (!ok) { this.failures = <i64>p.threshold; this.open(p, now); return; }
      this.probeSuccesses++;
      if (this.probeSuccesses >= <i64>p.probes) this.close();
      return;
    }
    // Outcomes of requests admitted while the circuit was closed; a late one changes nothing once it opened.
    if (this.state != CircuitState.Closed) return;
    if (ok) { this.failures = 0; return; }
    this.failures++;
    if (this.failures >= <i64>p.threshold) this.open(p, now);
  }

  /** A probe ended without an outcome (client gone): free its slot. */
  release(probe: bool): void {
    if (probe && this.state == CircuitState.HalfOpen && this.probesInFlight > 0) this.probesInFlight--;
  }

  /** Milliseconds until an open circuit lets a probe through (0 when it would now). */
  remainingOpenMs(now: i64): i64 {
    return this.state == CircuitState.Open && this.openUntil > now ? this.openUntil - now : 0;
  }
}

// ---------------------------------------------------------------- shared-data backed

const enum Op { Admit, Report, Release }

class CircuitUpdate extends KvUpdate {
  admission: Admission = Admission.Pass;
  state: CircuitState = CircuitState.Closed;
  constructor(public p: CircuitParams, public now: i64, public op: Op, public ok: bool, public probe: bool) { super(); }
  apply(current: ArrayBuffer | null): ArrayBuffer | null {
    const r = CircuitRecord.decode(current);
    if (this.op == Op.Admit) this.admission = r.admit(this.p, this.now);
    else if (this.op == Op.Report) r.report(this.p, this.now, this.ok, this.probe);
    else r.release(this.probe);
    this.state = r.state;
    return r.encode();
  }
}

export function circuitKey(target: string): string { return "ai-fallback:circuit:" + target; }

/** The circuit as stored now (Closed when never written). */
export function readCircuit(target: string): CircuitRecord {
  return CircuitRecord.decode(kvGet(circuitKey(target)));
}

/** Result of a shared-data operation: what was decided and the state it left behind. */
export class CircuitResult {
  constructor(public admission: Admission, public state: CircuitState, public changed: bool, public retryAfterMs: i64) {}
}

export function admitTarget(target: string, p: CircuitParams, now: i64): CircuitResult {
  const cur = readCircuit(target);
  if (p.threshold <= 0 || cur.state == CircuitState.Closed) return new CircuitResult(Admission.Pass, CircuitState.Closed, false, 0);
  if (cur.state == CircuitState.Open && now < cur.openUntil) {
    return new CircuitResult(Admission.Reject, CircuitState.Open, false, cur.remainingOpenMs(now));
  }
  const u = new CircuitUpdate(p, now, Op.Admit, false, false);
  // Contention or a host failure: let the request through rather than drop it on bookkeeping.
  if (kvUpdate(circuitKey(target), u) != KvStatus.Ok) return new CircuitResult(Admission.Pass, cur.state, false, 0);
  return new CircuitResult(u.admission, u.state, true, 0);
}

/** Records an attempt's outcome; returns the state afterwards and whether it was written. */
export function reportTarget(target: string, p: CircuitParams, now: i64, ok: bool, probe: bool): CircuitResult {
  if (p.threshold <= 0) return new CircuitResult(Admission.Pass, CircuitState.Closed, false, 0);
  if (ok && !probe) {
    const cur = readCircuit(target);
    if (cur.state != CircuitState.Closed || cur.failures == 0) return new CircuitResult(Admission.Pass, cur.state, false, 0);
  }
  const u = new CircuitUpdate(p, now, Op.Report, ok, probe);
  const written = kvUpdate(circuitKey(target), u) == KvStatus.Ok;
  return new CircuitResult(Admission.Pass, u.state, written, 0);
}

export function releaseProbe(target: string, p: CircuitParams, now: i64): void {
  kvUpdate(circuitKey(target), new CircuitUpdate(p, now, Op.Release, false, true));
}
