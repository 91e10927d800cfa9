// Waveform geometry: pure, tested in waveform.test.ts. Peaks are min/max pairs in [-1, 1],
// `pixelsPerSecond` pairs a second; the canvas is `width` CSS pixels wide.

export interface Bar {
  x: number;
  top: number;
  bottom: number;
}

/** One bar per `barWidth` pixels: the envelope of the peaks it covers, over `total` seconds. */
export function bars(
  peaks: ArrayLike<number>,
  pixelsPerSecond: number,
  totalSeconds: number,
  width: number,
  height: number,
  barWidth = 3,
): Bar[] {
  const pairs = Math.floor(peaks.length / 2);
  if (pairs === 0 || width <= 0 || totalSeconds <= 0) return [];
  const out: Bar[] = [];
  const mid = height / 2;
  const perBar = (totalSeconds * pixelsPerSecond * barWidth) / width;
  for (let x = 0, i = 0; x < width; x += barWidth, i++) {
    const from = Math.floor(i * perBar);
    if (from >= pairs) break; // not decoded this far yet
    const to = Math.min(pairs, Math.max(from + 1, Math.floor((i + 1) * perBar)));
    let lo = 0;
    let hi = 0;
    for (let p = from; p < to; p++) {
      lo = Math.min(lo, peaks[2 * p]);
      hi = Math.max(hi, peaks[2 * p + 1]);
    }
    out.push({ x, top: mid - hi * mid, bottom: mid - lo * mid });
  }
  return out;
}

/** The x of a moment. */
export function timeToX(seconds: number, totalSeconds: number, width: number): number {
  if (totalSeconds <= 0) return 0;
  return Math.min(width, Math.max(0, (seconds / totalSeconds) * width));
}

/** The moment under an x (a click on the waveform seeks there). */
export function xToTime(x: number, totalSeconds: number, width: number): number {
  if (width <= 0) return 0;
  return Math.min(totalSeconds, Math.max(0, (x / width) * totalSeconds));
}

/** Beat lines that fit: every beat when they are at least `minGap` px apart, else every bar. */
export function beatLines(
  beats: number[],
  downbeats: number[],
  totalSeconds: number,
  width: number,
  minGap = 6,
): { x: number; down: boolean }[] {
  if (totalSeconds <= 0 || width <= 0) return [];
  const down = new Set(downbeats.map((d) => Math.round(d * 1000)));
  const spacing = beats.length > 1 ? (width * (beats[beats.length - 1] - beats[0])) / totalSeconds / (beats.length - 1) : width;
  const source = spacing >= minGap ? beats : downbeats;
  return source.map((t) => ({ x: timeToX(t, totalSeconds, width), down: source === downbeats || down.has(Math.round(t * 1000)) }));
}
