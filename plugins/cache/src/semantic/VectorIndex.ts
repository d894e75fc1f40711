/**
 * The in-memory index of the semantic cache: unit vectors grouped by
 * partition, each partition searched on its own.
 *
 * A partition contains the vectors of requests that differ only in their latest
 * user turn, so most partitions are small (one conversation) and a few are
 * large (the first turn under a popular system prompt). Each partition is an
 * {@link HnswIndex}, which scans small partitions exactly and searches large
 * ones through its graph; a partition's storage grows from one slot, so
 * single-entry partitions stay cheap.
 *
 * Entries expire at their own time. The index keeps at most `maxEntries`,
 * and past that it removes the oldest entries (by insertion) first.
 */
import { HnswIndex, type HnswMatch } from "./Hnsw.js"
import type { TurnGuard } from "./TurnGuard.js"

export interface VectorIndexOptions {
  /** Upper bound of the entries over all partitions; the oldest go first. */
  readonly maxEntries: number
  /** HNSW links per node (layer 0 keeps twice as many). */
  readonly m?: number
  readonly efConstruction?: number
  readonly efSearch?: number
}

export interface VectorEntry {
  /** The exact cache key of the stored response the vector stands for. */
  readonly id: string
  readonly partition: string
  /** A unit vector. */
  readonly vector: Float32Array
  /** Epoch milliseconds after which the entry is not found. */
  readonly expiresAt: number
  /** The user turn's guard, checked before a match is served; absent from entries written before guards existed. */
  readonly guard?: TurnGuard | undefined
}

export interface VectorMatch {
  readonly id: string
  readonly similarity: number
}

export interface VectorIndexStats {
  readonly entries: number
  readonly partitions: number
  /** Entries removed because the index was full. */
  readonly evictions: number
  /** Entries removed because they expired. */
  readonly expirations: number
  /** Entries not added because their vector's length differs from the partition's. */
  readonly rejected: number
}

interface Partition {
  readonly graph: HnswIndex
  /** The entry id of each graph slot. */
  readonly ids: Array<string | undefined>
}

interface Located {
  readonly partition: string
  readonly slot: number
  readonly expiresAt: number
  readonly guard: TurnGuard | undefined
}

/** Candidates looked at per search, so that an expired or rejected best match does not hide a live one behind it. */
const SEARCH_CANDIDATES = 4
/** Candidates looked at when the first ones were all rejected above the threshold. */
const WIDE_SEARCH_CANDIDATES = 16

export class VectorIndex {
  private readonly partitions = new Map<string, Partition>()
  /** Every entry by id, in insertion order, so the first is the oldest. */
  private readonly entries = new Map<string, Located>()
  private evictions = 0
  private expirations = 0
  private rejected = 0

  constructor(private readonly options: VectorIndexOptions) {}

  get size(): number {
    return this.entries.size
  }

  /** Returns true when an entry with this id and expiry time is present. */
  has(id: string, expiresAt: number): boolean {
    return this.entries.get(id)?.expiresAt === expiresAt
  }

  /**
   * Adds an entry, replacing any entry with the same id, and evicts the
   * oldest entries past `maxEntries`. Returns false when the vector's length
   * differs from the vectors already in its partition.
   */
  add(entry: VectorEntry): boolean {
    this.remove(entry.id)
    let partition = this.partitions.get(entry.partition)
    if (partition !== undefined && partition.graph.dimensions !== entry.vector.length) {
      this.rejected++
      return false
    }
    if (partition === undefined) {
      partition = {
        graph: new HnswIndex({
          dimensions: entry.vector.length,
          m: this.options.m,
          efConstruction: this.options.efConstruction,
          efSearch: this.options.efSearch,
          initialCapacity: 1
        }),
        ids: []
      }
      this.partitions.set(entry.partition, partition)
    }
    const slot = partition.graph.add(entry.vector)
    partition.ids[slot] = entry.id
    this.entries.set(entry.id, { partition: entry.partition, slot, expiresAt: entry.expiresAt, guard: entry.guard })

    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.options.maxEntries) break
      this.remove(oldest)
      this.evictions++
    }
    return true
  }

  /** Removes the entry with this id; returns false when there was none. */
  remove(id: string): boolean {
    const located = this.entries.get(id)
    if (located === undefined) return false
    this.entries.delete(id)
    const partition = this.partitions.get(located.partition)!
    partition.graph.remove(located.slot)
    partition.ids[located.slot] = undefined
    // An empty partition is dropped whole, which frees its graph and any deleted nodes in it.
    if (partition.graph.size === 0) {
      partition.graph.dispose()
      this.partitions.delete(located.partition)
    }
    return true
  }

  /**
   * Returns the live entry of `partition` most similar to `vector` that
   * `accept` accepts, or undefined when the partition has none or the
   * vector's length differs. Only the few most similar entries are looked
   * at. When `accept` rejected all of them with a similarity of at least
   * `widenAbove`, more are looked at, so that many rejected near entries
   * (order numbers one digit apart) do not hide an acceptable one. Expired
   * entries met on the way are removed.
   */
  search(
    partition: string,
    vector: Float32Array,
    now: number,
    accept: (guard: TurnGuard | undefined, similarity: number) => boolean = () => true,
    widenAbove = Number.POSITIVE_INFINITY
  ): VectorMatch | undefined {
    const found = this.partitions.get(partition)
    if (found === undefined || found.graph.dimensions !== vector.length) return undefined
    const first = found.graph.search(vector, SEARCH_CANDIDATES)
    const match = this.firstAccepted(found, first, now, accept)
    if (match !== undefined || first.length < SEARCH_CANDIDATES || first.at(-1)!.similarity < widenAbove) return match
    const seen = new Set(first.map((candidate) => candidate.slot))
    const more = found.graph.search(vector, WIDE_SEARCH_CANDIDATES).filter((candidate) => !seen.has(candidate.slot))
    return this.firstAccepted(found, more, now, accept)
  }

  private firstAccepted(
    found: Partition,
    candidates: ReadonlyArray<HnswMatch>,
    now: number,
    accept: (guard: TurnGuard | undefined, similarity: number) => boolean
  ): VectorMatch | undefined {
    for (const match of candidates) {
      const id = found.ids[match.slot]
      if (id === undefined) continue
      const located = this.entries.get(id)
      if (located !== undefined && located.expiresAt <= now) {
        this.remove(id)
        this.expirations++
        continue
      }
      if (!accept(located?.guard, match.similarity)) continue
      return { id, similarity: match.similarity }
    }
    return undefined
  }

  /** Removes every entry that expired at or before `now`; returns how many. */
  removeExpired(now: number): number {
    let removed = 0
    for (const [id, located] of this.entries) {
      if (located.expiresAt > now) continue
      this.remove(id)
      removed++
    }
    this.expirations += removed
    return removed
  }

  stats(): VectorIndexStats {
    return {
      entries: this.entries.size,
      partitions: this.partitions.size,
      evictions: this.evictions,
      expirations: this.expirations,
      rejected: this.rejected
    }
  }
}
