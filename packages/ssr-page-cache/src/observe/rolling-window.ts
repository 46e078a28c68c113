/** Hits and misses of the last `windowMs`, for /health's rolling hit rate. */
export interface WindowCounts {
  hits: number;
  misses: number;
  /** Of the hits, stale pages served. */
  stale: number;
}

/**
 * Counts of the last `windowMs`, kept in `slots` slots of windowMs / slots each (one minute each
 * for an hour): recording is two array writes, reading sums the slots, and an event leaves the
 * window whole slots at a time, at most one slot late.
 */
export class RollingWindow {
  private readonly slotMs: number;
  /** The slot number (time / slotMs) each position holds; a stale one counts as empty. */
  private readonly slotOf: Float64Array;
  private readonly hitCounts: Float64Array;
  private readonly missCounts: Float64Array;
  private readonly staleCounts: Float64Array;
  private readonly startedAt: number;

  constructor(
    readonly windowMs: number,
    private readonly slots = 60,
  ) {
    this.slotMs = Math.max(1, Math.ceil(windowMs / slots));
    this.slotOf = new Float64Array(slots).fill(-1);
    this.hitCounts = new Float64Array(slots);
    this.missCounts = new Float64Array(slots);
    this.staleCounts = new Float64Array(slots);
    this.startedAt = Date.now();
  }

  recordHit(): void {
    this.hitCounts[this.position()]! += 1;
  }

  /** A stale page served: a hit, counted also as stale. */
  recordStale(): void {
    const position = this.position();
    this.hitCounts[position]! += 1;
    this.staleCounts[position]! += 1;
  }

  recordMiss(): void {
    this.missCounts[this.position()]! += 1;
  }

  /** The counts of the slots still inside the window. */
  counts(): WindowCounts {
    const oldest = Math.floor(Date.now() / this.slotMs) - this.slots + 1;
    let hits = 0;
    let misses = 0;
    let stale = 0;
    for (let position = 0; position < this.slots; position += 1) {
      if (this.slotOf[position]! < oldest) continue;
      hits += this.hitCounts[position]!;
      misses += this.missCounts[position]!;
      stale += this.staleCounts[position]!;
    }
    return { hits, misses, stale };
  }

  /** True once the process has been counting for a whole window. */
  get isFull(): boolean {
    return Date.now() - this.startedAt >= this.windowMs;
  }

  private position(): number {
    const slot = Math.floor(Date.now() / this.slotMs);
    const position = slot % this.slots;
    if (this.slotOf[position] !== slot) {
      this.slotOf[position] = slot;
      this.hitCounts[position] = 0;
      this.missCounts[position] = 0;
      this.staleCounts[position] = 0;
    }
    return position;
  }
}
