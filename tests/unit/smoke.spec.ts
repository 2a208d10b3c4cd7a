// Sanity checks of the as-pect toolchain itself: if these fail, no other unit test result can be trusted.

class Point {
  constructor(public x: i32, public y: i32) {}
}

describe("toolchain", () => {
  it("compares values strictly", () => {
    expect<i32>(1 + 1).toBe(2);
    expect<i32>(1 + 1).not.toBe(3);
    expect<string>("ab" + "c").toBe("abc");
  });

  it("reports a wrong expectation as a throw", () => {
    expect(() => {
      expect<i32>(1 + 1).toBe(3);
    }).toThrow();
    expect(() => {
      expect<i32>(1 + 1).toBe(2);
    }).not.toThrow();
  });

  // The AST-kind mismatch between @as-pect/transform and a newer compiler makes class comparisons pass for any values.
  it("compares class instances field by field", () => {
    expect(new Point(1, 2)).toStrictEqual(new Point(1, 2));
    expect(new Point(1, 2)).not.toStrictEqual(new Point(1, 3));
    expect(() => {
      expect(new Point(1, 2)).toStrictEqual(new Point(9, 2));
    }).toThrow();
  });
});
