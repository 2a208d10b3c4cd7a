// FilterChain iteration semantics (Envoy FilterManager) with scripted filters, no wasm involved.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DataAction, HeaderAction, TrailerAction } from "../../host/abi.ts";
import { FilterChain } from "../../host/chain.ts";

interface Script {
  headers?: HeaderAction[];
  data?: DataAction[];
  trailers?: TrailerAction[];
  /** Called in the data callback with the body it sees; may replace it. */
  edit?: (body: string) => string | undefined;
}

function setup(scripts: Script[], limit = 1 << 20) {
  const events: string[] = [];
  const counters = scripts.map(() => ({ h: 0, d: 0, t: 0 }));
  let tooLarge = 0;
  const chain: FilterChain = new FilterChain(scripts.length, {
    headers: (i, eos) => {
      events.push(`${i}:H${eos ? "!" : ""}`);
      return scripts[i].headers?.[counters[i].h++] ?? HeaderAction.Continue;
    },
    data: (i, body, eos) => {
      events.push(`${i}:D(${body.data})${eos ? "!" : ""}`);
      const edited = scripts[i].edit?.(String(body.data));
      if (edited !== undefined) body.data = Buffer.from(edited);
      return scripts[i].data?.[counters[i].d++] ?? DataAction.Continue;
    },
    trailers: (i) => {
      events.push(`${i}:T`);
      return scripts[i].trailers?.[counters[i].t++] ?? TrailerAction.Continue;
    },
    sinkHeaders: (eos) => events.push(`up:H${eos ? "!" : ""}`),
    sinkData: (d, eos) => events.push(`up:D(${d})${eos ? "!" : ""}`),
    sinkTrailers: () => events.push("up:T"),
    tooLarge: () => tooLarge++,
  }, () => limit);
  return { chain, events, tooLarge: () => tooLarge };
}

describe("filter chain iteration", () => {
  it("Continue everywhere streams every frame through in order", () => {
    const { chain, events } = setup([{}, {}]);
    chain.startHeaders(false);
    chain.startData(Buffer.from("a"), false);
    chain.startData(Buffer.from("b"), true);
    assert.deepEqual(events, ["0:H", "1:H", "up:H", "0:D(a)", "1:D(a)", "up:D(a)", "0:D(b)!", "1:D(b)!", "up:D(b)!"]);
  });

  it("headers StopIteration: later filters wait, but the stopped filter still gets the body; a data Continue releases headers then data", () => {
    const { chain, events } = setup([{ headers: [HeaderAction.StopIteration], data: [DataAction.StopIterationAndBuffer] }, {}]);
    chain.startHeaders(false);
    chain.startData(Buffer.from("ab"), false);
    chain.startData(Buffer.from("cd"), true);
    assert.deepEqual(events, ["0:H", "0:D(ab)", "0:D(abcd)!", "1:H", "up:H", "1:D(abcd)!", "up:D(abcd)!"]);
  });

  it("headers StopAll holds the body unseen; resume gives the stopped filter the whole body, then the rest", () => {
    const { chain, events } = setup([{ headers: [HeaderAction.StopAllIterationAndWatermark] }, {}]);
    chain.startHeaders(false);
    chain.startData(Buffer.from("x"), false);
    chain.startData(Buffer.from("y"), true);
    assert.deepEqual(events, ["0:H"]);
    chain.resume(0);
    assert.deepEqual(events, ["0:H", "1:H", "up:H", "0:D(xy)!", "1:D(xy)!", "up:D(xy)!"]);
  });

  it("a headers-only request stopped and resumed ends the stream on the headers", () => {
    const { chain, events } = setup([{ headers: [HeaderAction.StopAllIterationAndBuffer] }, {}]);
    chain.startHeaders(true);
    chain.resume(0);
    assert.deepEqual(events, ["0:H!", "1:H!", "up:H!"]);
  });

  it("StopIterationAndBuffer accumulates; edits to the buffered body are what moves on", () => {
    const { chain, events } = setup([{ data: [DataAction.StopIterationAndBuffer, DataAction.StopIterationAndBuffer], edit: (b) => (b === "123" ? "X" : undefined) }, {}]);
    chain.startHeaders(false);
    chain.startData(Buffer.from("1"), false);
    chain.startData(Buffer.from("2"), false);
    chain.startData(Buffer.from("3"), true);
    assert.deepEqual(events, ["0:H", "1:H", "up:H", "0:D(1)", "0:D(12)", "0:D(123)!", "1:D(X)!", "up:D(X)!"]);
  });

  it("StopIterationNoBuffer drops the chunk (the filter consumed it)", () => {
    const { chain, events } = setup([{ data: [DataAction.StopIterationNoBuffer] }, {}]);
    chain.startHeaders(false);
    chain.startData(Buffer.from("gone"), false);
    chain.startData(Buffer.from("kept"), true);
    assert.deepEqual(events.filter((e) => e.startsWith("up")), ["up:H", "up:D(kept)!"]);
  });

  it("resume while the request is still arriving passes the buffered part, later chunks stream", () => {
    const { chain, events } = setup([{ data: [DataAction.StopIterationAndBuffer] }, {}]);
    chain.startHeaders(false);
    chain.startData(Buffer.from("a"), false);
    chain.resume(0);
    chain.startData(Buffer.from("b"), true);
    assert.deepEqual(events.slice(3), ["0:D(a)", "1:D(a)", "up:D(a)", "0:D(b)!", "1:D(b)!", "up:D(b)!"]);
  });

  it("trailers wait behind a stopped filter and follow the body on resume", () => {
    const { chain, events } = setup([{ headers: [HeaderAction.StopAllIterationAndWatermark] }, {}]);
    chain.startHeaders(false);
    chain.startData(Buffer.from("a"), false);
    chain.startTrailers();
    chain.resume(0);
    assert.deepEqual(events, ["0:H", "1:H", "up:H", "0:D(a)", "1:D(a)", "up:D(a)", "0:T", "1:T", "up:T"]);
  });

  it("buffering past the limit reports too large, except in watermark mode", () => {
    const buffered = setup([{ data: [DataAction.StopIterationAndBuffer, DataAction.StopIterationAndBuffer] }], 3);
    buffered.chain.startHeaders(false);
    buffered.chain.startData(Buffer.from("ab"), false);
    assert.equal(buffered.tooLarge(), 0);
    buffered.chain.startData(Buffer.from("cd"), false);
    assert.equal(buffered.tooLarge(), 1);

    const held = setup([{ headers: [HeaderAction.StopAllIterationAndBuffer] }], 3);
    held.chain.startHeaders(false);
    held.chain.startData(Buffer.from("abcd"), false);
    assert.equal(held.tooLarge(), 1);

    const watermark = setup([{ headers: [HeaderAction.StopAllIterationAndWatermark], data: [DataAction.StopIterationAndWatermark] }], 3);
    watermark.chain.startHeaders(false);
    watermark.chain.startData(Buffer.from("abcdef"), false);
    assert.equal(watermark.tooLarge(), 0);
  });

  it("an aborted chain delivers nothing more", () => {
    const { chain, events } = setup([{ headers: [HeaderAction.StopAllIterationAndWatermark] }, {}]);
    chain.startHeaders(false);
    chain.aborted = true;
    chain.resume(0);
    chain.startData(Buffer.from("x"), true);
    assert.deepEqual(events, ["0:H"]);
  });
});
