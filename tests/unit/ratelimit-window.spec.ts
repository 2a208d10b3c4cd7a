// plugins/ai-token-ratelimit/window.ts: the bucketed sliding window.
import { BUCKETS, RECORD_FIELDS, advance, adjust, used, waitMs, bucketAt, bucketMs } from "../../plugins/ai-token-ratelimit/window";

const W: i64 = 60000;            // a minute: 20 buckets of 3 s
function rec(): StaticArray<i64> { return new StaticArray<i64>(RECORD_FIELDS); }

describe("ratelimit window", () => {
  it("buckets are a twentieth of the window", () => {
    expect(BUCKETS).toBe(20);
    expect(bucketMs(W)).toBe(3000);
    expect(bucketAt(6999, W)).toBe(2);
    expect(bucketMs(10)).toBe(1);
  });

  it("counts the current bucket and the twenty before it", () => {
    const r = rec();
    advance(r, 100); r[1] += 5;          // bucket 100
    advance(r, 110); r[1] += 7;          // bucket 110
    expect(used(r)).toBe(12);
    advance(r, 120);                     // 100 is 20 buckets back: still counted
    expect(used(r)).toBe(12);
    advance(r, 121);                     // now it is out
    expect(used(r)).toBe(7);
    advance(r, 500);
    expect(used(r)).toBe(0);
  });

  it("a clock that goes back does not move the window", () => {
    const r = rec();
    advance(r, 100); r[1] += 5;
    advance(r, 90);
    expect(r[0]).toBe(100);
    expect(used(r)).toBe(5);
  });

  it("reconciles into the bucket of admission", () => {
    const r = rec();
    advance(r, 100); r[1] += 50;         // reserved 50 at bucket 100
    adjust(r, 105, 100, -30);            // real cost 20, known 5 buckets later
    expect(used(r)).toBe(20);
    advance(r, 121);                     // bucket 100 leaves: the 20 leave with it
    expect(used(r)).toBe(0);
  });

  it("drops refunds for buckets gone, charges late extras now, never goes negative", () => {
    const r = rec();
    advance(r, 100); r[1] += 10;
    adjust(r, 130, 100, -10);            // bucket 100 is gone: nothing to refund
    expect(used(r)).toBe(0);
    adjust(r, 130, 100, 25);             // extra usage of a long request: charged to bucket 130
    expect(used(r)).toBe(25);
    adjust(r, 130, 130, -100);
    expect(used(r)).toBe(0);
  });

  it("tells how long until a cost fits and until the window is empty", () => {
    const r = rec();
    const now: i64 = 100 * 3000 + 1000;  // inside bucket 100
    advance(r, 90); r[1] += 40;          // bucket 90
    advance(r, 100); r[1] += 50;         // bucket 100
    // limit 100, used 90: 10 fits now; 30 needs bucket 90 gone (bucket 111 starts at 333000).
    expect(waitMs(r, now, W, 10, 100, false)).toBe(0);
    expect(waitMs(r, now, W, 30, 100, false)).toBe(111 * 3000 - now);
    // Empty once bucket 100 is gone too (bucket 121).
    expect(waitMs(r, now, W, 0, 100, true)).toBe(121 * 3000 - now);
    // More than the limit never fits: the window length.
    expect(waitMs(r, now, W, 101, 100, false)).toBe(W);
  });
});
