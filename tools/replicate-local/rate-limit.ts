/** A sliding-window request counter, like Replicate's per-minute API rate limits. */
export class SlidingWindowLimiter {
  private readonly hits: number[] = [];

  /**
   * Records a request if fewer than `limit` were accepted in the last `windowMs`.
   * @returns 0 when accepted, otherwise the whole seconds (at least 1) until a slot frees.
   */
  take(limit: number | null, windowMs: number, now = Date.now()): number {
    if (!limit) return 0;
    while (this.hits.length > 0 && (this.hits[0] ?? 0) <= now - windowMs) this.hits.shift();
    if (this.hits.length < limit) {
      this.hits.push(now);
      return 0;
    }
    const freesAt = (this.hits[this.hits.length - limit] ?? now) + windowMs;
    return Math.max(1, Math.ceil((freesAt - now) / 1000));
  }
}
