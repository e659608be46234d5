import { createHash } from 'node:crypto';

/**
 * A consistent-hash ring with virtual nodes (Slack's CHARM for Channel Servers): a key belongs to
 * the first virtual node clockwise from its hash. Adding a shard moves only the keys that now
 * fall on its virtual nodes (about 1/N); a shard marked down hands its keys to the next live
 * shard clockwise, and gets them back when it returns.
 */
export class HashRing<S extends string = string> {
  private points: { hash: number; shard: S }[] = [];

  constructor(
    shards: readonly S[],
    private readonly vnodes = 160,
  ) {
    for (const s of shards) this.add(s);
  }

  static hash(key: string): number {
    return createHash('md5').update(key).digest().readUInt32BE(0);
  }

  add(shard: S) {
    for (let i = 0; i < this.vnodes; i++) this.points.push({ hash: HashRing.hash(`${shard}#${i}`), shard });
    this.points.sort((a, b) => a.hash - b.hash || (a.shard < b.shard ? -1 : 1));
  }

  get shards(): S[] {
    return [...new Set(this.points.map((p) => p.shard))];
  }

  /** The shard owning `key`, skipping shards for which `isUp` says false. */
  route(key: string, isUp: (shard: S) => boolean = () => true): S | null {
    const points = this.points;
    if (points.length === 0) return null;
    const h = HashRing.hash(key);
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]!.hash < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < points.length; i++) {
      const p = points[(lo + i) % points.length]!;
      if (isUp(p.shard)) return p.shard;
    }
    return null;
  }
}
