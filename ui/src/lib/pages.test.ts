import { describe, expect, it } from "vitest";
import { missingPages, pagesCovering, rowAt } from "./pages";

describe("paged list", () => {
  it("asks for the pages that hold the rows in view, and only those", () => {
    expect(pagesCovering(0, 30, 100)).toEqual([0]);
    expect(pagesCovering(95, 130, 100)).toEqual([0, 1]);
    expect(pagesCovering(4996, 5014, 100)).toEqual([49, 50]);
    expect(pagesCovering(200, 300, 100)).toEqual([2]);
    expect(pagesCovering(10, 10, 100)).toEqual([]);
  });
  it("finds a row in its page, and nothing before the page arrives", () => {
    const pages = new Map([[1, ["a", "b", "c"]]]);
    expect(rowAt(pages, 101, 100)).toBe("b");
    expect(rowAt(pages, 1, 100)).toBeUndefined();
    expect(rowAt(pages, 103, 100)).toBeUndefined();
  });
  it("does not ask twice for a page that is held or on its way", () => {
    const held = new Map([[0, []]]);
    expect(missingPages(held, new Set([2]), 50, 350, 100)).toEqual([1, 3]);
    expect(missingPages(held, new Set(), 0, 40, 100)).toEqual([]);
  });
});
