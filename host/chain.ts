import { DataAction, HeaderAction, TrailerAction } from "./abi.ts";
import type { BodyRef } from "./vm.ts";

/** What one direction of a stream (decoding requests or encoding responses) calls out to. */
export interface ChainIO {
  headers(i: number, endStream: boolean): HeaderAction;
  data(i: number, body: BodyRef, endStream: boolean): DataAction;
  trailers(i: number): TrailerAction;
  sinkHeaders(endStream: boolean): void;
  sinkData(data: Buffer, endStream: boolean): void;
  sinkTrailers(): void;
  /** A filter buffered past the limit (Envoy: 413 for requests, 500 for responses). */
  tooLarge(): void;
}

type Iteration = "go" | "single" | "all";

interface SlotState {
  iteration: Iteration;
  headersContinued: boolean;
  /** The filter has seen end of stream (a later frame is not for it). */
  ended: boolean;
  /** Data stopped at this filter: seen by it ("single", buffering) or not yet ("all"). */
  held: BodyRef | null;
  /** The filter returned StopIterationAndBuffer/Watermark: its next data callback sees held + new data. */
  buffering: boolean;
  /** Flow-control mode: buffer without the 413/500 limit. */
  watermark: boolean;
  trailersWaiting: boolean;
  /** Body visible to the filter's host calls right now. */
  visibleBody: BodyRef | null;
}

/**
 * The filter iteration of one direction, after Envoy's FilterManager: StopIteration pauses headers but
 * still feeds data (and trailers) to the stopped filter; StopAll* holds everything before it;
 * data StopIterationAndBuffer accumulates so the next callback sees the whole body; a continue
 * resumes headers, then held data, then trailers. One difference: held data is kept per filter,
 * where Envoy shares one buffer per stream (they only differ when two filters buffer at once).
 */
export class FilterChain {
  private slots: SlotState[];
  complete = false;
  hasTrailers = false;
  aborted = false;
  headersSent = false;

  constructor(size: number, private io: ChainIO, private limit: () => number) {
    this.slots = Array.from({ length: size }, () => ({
      iteration: "go" as Iteration, headersContinued: false, ended: false, held: null, buffering: false,
      watermark: false, trailersWaiting: false, visibleBody: null,
    }));
  }

  bodyFor(i: number): BodyRef | null { return this.slots[i]?.visibleBody ?? null; }

  isStopped(i: number): boolean { return this.slots[i].iteration !== "go"; }

  /** Source entry points. */
  startHeaders(endStream: boolean): void {
    if (endStream) this.complete = true;
    this.headers(0, endStream);
  }
  startData(data: Buffer, endStream: boolean): void {
    if (endStream) this.complete = true;
    this.data(0, data, endStream);
  }
  startTrailers(): void {
    this.complete = true;
    this.hasTrailers = true;
    this.trailers(0);
  }

  private headers(from: number, endStream: boolean): void {
    for (let i = from; i < this.slots.length; i++) {
      if (this.aborted) return;
      const st = this.slots[i];
      st.ended = endStream;
      const r = this.io.headers(i, endStream);
      if (this.aborted) return;
      if (r === HeaderAction.Continue || r === HeaderAction.ContinueAndEndStream) {
        st.headersContinued = true;
        continue;
      }
      st.iteration = r === HeaderAction.StopIteration ? "single" : "all";
      st.watermark = r === HeaderAction.StopAllIterationAndWatermark;
      return;
    }
    this.headersSent = true;
    this.io.sinkHeaders(endStream);
  }

  private data(from: number, data: Buffer, endStream: boolean): void {
    for (let i = from; i < this.slots.length; i++) {
      if (this.aborted) return;
      const st = this.slots[i];
      if (st.iteration === "all") {
        this.hold(st, data);
        return;
      }
      if (st.ended) return;
      let body: BodyRef = { data, modified: false };
      if (st.buffering && st.held) {
        body = st.held;
        body.data = Buffer.concat([body.data, data]);
        st.held = null;
      }
      st.ended = endStream;
      st.visibleBody = body;
      const r = this.io.data(i, body, endStream);
      st.visibleBody = null;
      if (this.aborted) return;
      st.buffering = false;
      if (r === DataAction.Continue) {
        if (st.iteration === "single") {
          st.held = body;
          this.resume(i);
          return;
        }
        data = body.data;
        continue;
      }
      st.iteration = "single";
      if (r === DataAction.StopIterationAndBuffer || r === DataAction.StopIterationAndWatermark) {
        st.held = body;
        st.buffering = true;
        st.watermark = r === DataAction.StopIterationAndWatermark;
        st.visibleBody = body; // Envoy's getBuffer returns the buffered body until the filter continues.
        this.checkLimit(st);
      }
      // StopIterationNoBuffer: the filter consumed the chunk; nothing goes on.
      return;
    }
    this.io.sinkData(data, endStream);
  }

  private trailers(from: number): void {
    for (let i = from; i < this.slots.length; i++) {
      if (this.aborted) return;
      const st = this.slots[i];
      if (st.iteration === "all") {
        st.trailersWaiting = true;
        return;
      }
      st.ended = true;
      const r = this.io.trailers(i);
      if (this.aborted) return;
      if (r === TrailerAction.Continue && st.iteration === "go") continue;
      st.trailersWaiting = true;
      if (r === TrailerAction.Continue) this.resume(i);
      else st.iteration = "single";
      return;
    }
    this.io.sinkTrailers();
  }

  /** proxy_continue_stream (or a Continue after a stop): headers, then held data, then trailers move on. */
  resume(i: number): void {
    const st = this.slots[i];
    if (!st || st.iteration === "go" || this.aborted) return;
    const fromCurrent = st.iteration === "all";
    st.iteration = "go";
    st.buffering = false;
    st.visibleBody = null;
    const held = st.held;
    st.held = null;
    const trailers = st.trailersWaiting;
    st.trailersWaiting = false;
    if (!st.headersContinued) {
      st.headersContinued = true;
      this.headers(i + 1, this.complete && held === null && !this.hasTrailers);
    }
    if (held) this.data(fromCurrent ? i : i + 1, held.data, this.complete && !this.hasTrailers);
    if (trailers) this.trailers(fromCurrent ? i : i + 1);
  }

  private hold(st: SlotState, data: Buffer): void {
    if (st.held) st.held.data = Buffer.concat([st.held.data, data]);
    else st.held = { data, modified: false };
    this.checkLimit(st);
  }

  private checkLimit(st: SlotState): void {
    if (!st.watermark && st.held && st.held.data.length > this.limit()) this.io.tooLarge();
  }
}
