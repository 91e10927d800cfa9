// A long list read a page at a time: only the pages that hold the rows in view are asked for,
// so 10,000 projects are never all read, sent and held at once. Pure, tested.

export const PAGE_SIZE = 100;

/** The indexes of the pages holding rows `start..end`. */
export function pagesCovering(start: number, end: number, size = PAGE_SIZE): number[] {
  if (end <= start || size <= 0) return [];
  const pages = [];
  for (let p = Math.floor(start / size); p <= Math.floor((end - 1) / size); p++) pages.push(p);
  return pages;
}

/** Row `i` of the list, if its page has arrived. */
export function rowAt<T>(pages: ReadonlyMap<number, T[]>, i: number, size = PAGE_SIZE): T | undefined {
  return pages.get(Math.floor(i / size))?.[i % size];
}

/** The pages rows `start..end` need that are neither held nor already asked for. */
export function missingPages(
  held: ReadonlyMap<number, unknown>,
  asked: ReadonlySet<number>,
  start: number,
  end: number,
  size = PAGE_SIZE,
): number[] {
  return pagesCovering(start, end, size).filter((p) => !held.has(p) && !asked.has(p));
}
