/**
 * An approximate nearest-neighbour index over unit vectors: a hierarchical
 * navigable small world graph (HNSW). Similarity
 * is the dot product, which is the cosine for unit vectors, so callers
 * normalize every vector they add or search with.
 *
 * Removal marks a node deleted. A deleted node still routes searches, is
 * never returned, and its slot is reused by a later insertion, which unlinks
 * it from its old neighbours and links it anew. Memory therefore follows the
 * largest number of live nodes the index ever held, not the number of
 * insertions.
 *
 * Vectors are kept in the process's {@link VectorArena}, where the dot
 * product runs as WebAssembly SIMD; call {@link HnswIndex.dispose} to return
 * an index's block. Everything runs on the calling thread and allocates
 * little per search.
 *
 * An index of at most `exactSearchLimit` live nodes is searched by scanning
 * every vector, which is exact and, up to about that size, faster than the
 * graph: the scan reads memory in order while the graph jumps around it
 * (see `bench/hnsw-timing.mjs`). Such an index does not link its nodes
 * either, because linking costs most of an insertion and most indexes
 * (one conversation's partition of the semantic cache) never grow past the
 * limit. From half the limit on, each insertion links itself and up to
 * {@link BACKLOG_LINKS_PER_ADD} nodes added before, so the graph is
 * complete before searches need it, without one long stall.
 */
import { sharedArena, strideOf, type VectorArena } from "./VectorArena.js"

export interface HnswOptions {
  /** Length of every vector. */
  readonly dimensions: number
  /** Links per node on the layers above 0; layer 0 keeps twice as many. Default 16. */
  readonly m?: number
  /** Candidates kept while linking a new node. Default 64. */
  readonly efConstruction?: number
  /** Candidates kept while searching, at least the number of results requested. Default 128. */
  readonly efSearch?: number
  /** Searches of an index with at most this many live nodes scan every vector. Default 10,000. */
  readonly exactSearchLimit?: number
  /** The source of the random layer assignment, returning numbers in [0, 1). Default `Math.random`. */
  readonly random?: () => number
  /** Initial number of node slots; the storage doubles when full. Default 16. */
  readonly initialCapacity?: number
  /** The arena that stores the vectors; default the process's shared arena. */
  readonly arena?: VectorArena
}

export interface HnswMatch {
  /** The slot returned by {@link HnswIndex.add}. */
  readonly slot: number
  /** The dot product with the query. */
  readonly similarity: number
}

export const DEFAULT_M = 16
/**
 * The default candidate count while linking. On 100,000 random
 * 384-dimension vectors, 64 built the graph in 84 to 88 s of CPU with
 * recall@1 0.965 at efSearch 128, and 100 in 148 s with recall@1 0.985
 * (`bench/README.md`).
 */
export const DEFAULT_EF_CONSTRUCTION = 64
/**
 * The default search width. On 100,000 random 384-dimension vectors and
 * queries at cosine 0.9 to a stored vector, recall@1 was 0.835 at 64 and
 * 0.965 at 128 (`bench/README.md`).
 */
export const DEFAULT_EF_SEARCH = 128
/**
 * Below this many vectors a scan is about as fast as the graph. A scan of
 * 10,000 384-dimension vectors took 0.7 ms and a graph search 0.5 ms. At
 * 100,000 the scan took 7.6 ms and the graph 1.7 ms (`bench/README.md`).
 */
export const DEFAULT_EXACT_SEARCH_LIMIT = 10_000

/** The number of backlog nodes that each insertion links once linking has started. */
export const BACKLOG_LINKS_PER_ADD = 2

/** The highest layer a node may get; with m = 16 a layer above 6 is expected once in 16^7 insertions. */
const MAX_LEVEL = 15

/**
 * A binary min-heap of (slot, key) pairs in typed arrays, reused across
 * searches. Pushing the negated similarity makes it a max-heap.
 */
class MinHeap {
  slots = new Int32Array(8)
  keys = new Float64Array(8)
  size = 0

  clear(): void {
    this.size = 0
  }

  push(slot: number, key: number): void {
    if (this.size === this.slots.length) {
      const slots = new Int32Array(this.size * 2)
      const keys = new Float64Array(this.size * 2)
      slots.set(this.slots)
      keys.set(this.keys)
      this.slots = slots
      this.keys = keys
    }
    let i = this.size++
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.keys[parent]! <= key) break
      this.slots[i] = this.slots[parent]!
      this.keys[i] = this.keys[parent]!
      i = parent
    }
    this.slots[i] = slot
    this.keys[i] = key
  }

  /** Removes the smallest pair; read it from `topSlot` and `topKey` first. */
  pop(): void {
    const last = --this.size
    if (last <= 0) return
    const slot = this.slots[last]!
    const key = this.keys[last]!
    let i = 0
    for (;;) {
      let child = 2 * i + 1
      if (child >= last) break
      if (child + 1 < last && this.keys[child + 1]! < this.keys[child]!) child++
      if (this.keys[child]! >= key) break
      this.slots[i] = this.slots[child]!
      this.keys[i] = this.keys[child]!
      i = child
    }
    this.slots[i] = slot
    this.keys[i] = key
  }

  get topSlot(): number {
    return this.slots[0]!
  }

  get topKey(): number {
    return this.keys[0]!
  }
}

export class HnswIndex {
  readonly dimensions: number
  readonly m: number
  /** Links per node on layer 0. */
  readonly m0: number
  readonly efConstruction: number
  efSearch: number
  readonly exactSearchLimit: number
  private readonly random: () => number
  private readonly levelFactor: number

  private readonly arena: VectorArena
  /** Floats per stored vector: `dimensions` rounded up to whole SIMD lanes, the rest zero. */
  private readonly stride: number
  private capacity: number
  /** The arena offset of this index's block: `capacity` vectors, then one row for the query being searched. */
  private base: number
  /** Slots handed out so far, live and deleted. */
  private allocated = 0
  private live = 0
  private levels: Uint8Array
  private deleted: Uint8Array
  /** A flag per slot: 1 when its node is in the graph. */
  private linked: Uint8Array
  /** The number of live nodes above which insertions link. */
  private readonly linkFrom: number
  private linking = false
  /** Slots added before linking started. Removed and already linked slots in it are skipped. */
  private backlog: Array<number> = []
  /** Layer 0 links: per slot, a count followed by `m0` slots. */
  private links0: Int32Array
  /** Similarities of the layer 0 links, in the same positions as `links0`. */
  private similarities0: Float32Array
  /** Links above layer 0: per slot with a level above 0, `level` runs of a count followed by `m` slots. */
  private readonly upperLinks: Array<Int32Array | undefined> = []
  private readonly upperSimilarities: Array<Float32Array | undefined> = []
  private readonly freeSlots: Array<number> = []
  private entryPoint = -1
  private topLevel = -1

  private visited: Uint32Array
  private visitEpoch = 0
  private readonly candidates = new MinHeap()
  private readonly results = new MinHeap()

  constructor(options: HnswOptions) {
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) {
      throw new RangeError(`HNSW dimensions must be a positive integer, got ${options.dimensions}`)
    }
    this.dimensions = options.dimensions
    this.m = Math.max(2, options.m ?? DEFAULT_M)
    this.m0 = this.m * 2
    this.efConstruction = Math.max(this.m, options.efConstruction ?? DEFAULT_EF_CONSTRUCTION)
    this.efSearch = Math.max(1, options.efSearch ?? DEFAULT_EF_SEARCH)
    this.exactSearchLimit = Math.max(0, options.exactSearchLimit ?? DEFAULT_EXACT_SEARCH_LIMIT)
    this.random = options.random ?? Math.random
    this.levelFactor = 1 / Math.log(this.m)
    this.arena = options.arena ?? sharedArena()
    this.stride = strideOf(this.dimensions)
    this.capacity = Math.max(1, options.initialCapacity ?? 16)
    this.base = this.arena.allocate((this.capacity + 1) * this.stride)
    this.levels = new Uint8Array(this.capacity)
    this.deleted = new Uint8Array(this.capacity)
    this.linked = new Uint8Array(this.capacity)
    this.linkFrom = Math.floor(this.exactSearchLimit / 2)
    this.links0 = new Int32Array(this.capacity * (this.m0 + 1))
    this.similarities0 = new Float32Array(this.capacity * (this.m0 + 1))
    this.visited = new Uint32Array(this.capacity)
  }

  /** Number of live (not deleted) nodes. */
  get size(): number {
    return this.live
  }

  /** Number of slots in use, deleted nodes awaiting reuse included. */
  get slots(): number {
    return this.allocated
  }

  /** The number of nodes in the graph, including removed ones that still route searches. It scans every slot, so it is for tests. */
  get linkedCount(): number {
    let count = 0
    for (let slot = 0; slot < this.allocated; slot++) count += this.linked[slot]!
    return count
  }

  /** Returns true when `slot` contains a live node. */
  has(slot: number): boolean {
    return slot >= 0 && slot < this.allocated && this.deleted[slot] === 0
  }

  /**
   * Adds a unit vector and returns its slot, which may be the slot of a node
   * removed earlier. The vector is copied.
   */
  add(vector: ArrayLike<number>): number {
    if (vector.length !== this.dimensions) {
      throw new RangeError(`Expected a vector of ${this.dimensions} dimensions, got ${vector.length}`)
    }
    const reused = this.takeFreeSlot()
    const slot = reused ?? this.newSlot()
    this.arena.floats.set(vector, this.offsetOf(slot))
    this.deleted[slot] = 0
    this.live++
    if (reused !== undefined && this.linked[slot] === 1) this.unlink(slot)

    if (!this.linking && this.live > this.linkFrom) this.linking = true
    if (!this.linking) {
      this.backlog.push(slot)
      return slot
    }
    this.linkNode(slot)
    for (let linked = 0; linked < BACKLOG_LINKS_PER_ADD && this.backlog.length > 0; ) {
      const waiting = this.backlog.pop()!
      if (this.deleted[waiting] === 1 || this.linked[waiting] === 1) continue
      this.linkNode(waiting)
      linked++
    }
    return slot
  }

  private linkNode(slot: number): void {
    this.linked[slot] = 1
    if (this.entryPoint < 0) {
      this.entryPoint = slot
      this.topLevel = this.levels[slot]!
      return
    }
    this.link(slot)
  }

  /** Marks the node in `slot` deleted; its slot goes to the next insertion. Returns false when it was not live. */
  remove(slot: number): boolean {
    if (!this.has(slot)) return false
    this.deleted[slot] = 1
    this.live--
    this.freeSlots.push(slot)
    return true
  }

  /** Returns a copy of the vector in `slot`. */
  vectorAt(slot: number): Float32Array {
    const start = this.offsetOf(slot)
    return this.arena.floats.slice(start, start + this.dimensions)
  }

  /** Returns the index's block to the arena. The index must not be used afterwards. */
  dispose(): void {
    this.arena.release(this.base, (this.capacity + 1) * this.stride)
    this.capacity = 0
    this.allocated = 0
    this.live = 0
  }

  /**
   * Returns up to `k` live nodes most similar to `query`, best first. It
   * keeps `max(ef, k)` candidates; more candidates give better recall and
   * slower searches.
   */
  search(query: ArrayLike<number>, k: number, ef: number = this.efSearch): Array<HnswMatch> {
    if (query.length !== this.dimensions) {
      throw new RangeError(`Expected a query of ${this.dimensions} dimensions, got ${query.length}`)
    }
    if (this.live === 0 || k < 1) return []
    const width = Math.max(ef, k)
    if (this.live <= this.exactSearchLimit || this.allocated <= width || this.hasBacklog()) return this.scan(query, k)

    const q = this.writeQuery(query)
    let entry = this.entryPoint
    for (let level = this.topLevel; level > 0; level--) entry = this.greedyStep(q, entry, level)
    this.searchLayer(q, entry, width, 0, true, -1)
    return this.takeResults(k)
  }

  /** Drops backlog slots that need no linking, and returns true when a live node is still unlinked. */
  private hasBacklog(): boolean {
    const backlog = this.backlog
    while (backlog.length > 0) {
      const slot = backlog[backlog.length - 1]!
      if (this.deleted[slot] === 0 && this.linked[slot] === 0) return true
      backlog.pop()
    }
    return false
  }

  /** Returns up to `k` live nodes most similar to `query` by comparing it with every node; exact and O(n). */
  scan(query: ArrayLike<number>, k: number): Array<HnswMatch> {
    if (query.length !== this.dimensions) {
      throw new RangeError(`Expected a query of ${this.dimensions} dimensions, got ${query.length}`)
    }
    const q = this.writeQuery(query)
    const results = this.results
    results.clear()
    for (let slot = 0; slot < this.allocated; slot++) {
      if (this.deleted[slot] === 1) continue
      const similarity = this.arena.dot(q, this.offsetOf(slot), this.stride)
      if (results.size < k) results.push(slot, similarity)
      else if (similarity > results.topKey) {
        results.pop()
        results.push(slot, similarity)
      }
    }
    return this.takeResults(k)
  }

  // ---------------------------------------------------------------------------
  // Slots and storage
  // ---------------------------------------------------------------------------

  /**
   * Returns a deleted slot to reuse, keeping its layer. The entry point is
   * never reused, because relinking starts from it.
   */
  private takeFreeSlot(): number | undefined {
    for (let i = this.freeSlots.length - 1; i >= 0; i--) {
      const slot = this.freeSlots[i]!
      if (slot === this.entryPoint) continue
      this.freeSlots.splice(i, 1)
      return slot
    }
    return undefined
  }

  private newSlot(): number {
    if (this.allocated === this.capacity) this.grow()
    const slot = this.allocated++
    const level = Math.min(MAX_LEVEL, Math.floor(-Math.log(1 - this.random()) * this.levelFactor))
    this.levels[slot] = level
    this.links0[slot * (this.m0 + 1)] = 0
    if (level > 0) {
      this.upperLinks[slot] = new Int32Array(level * (this.m + 1))
      this.upperSimilarities[slot] = new Float32Array(level * (this.m + 1))
    } else {
      this.upperLinks[slot] = undefined
      this.upperSimilarities[slot] = undefined
    }
    return slot
  }

  private grow(): void {
    const capacity = this.capacity * 2
    const resize = <T extends Float32Array | Int32Array | Uint8Array | Uint32Array>(old: T, make: (length: number) => T, stride: number): T => {
      const next = make(capacity * stride)
      next.set(old)
      return next
    }
    const base = this.arena.allocate((capacity + 1) * this.stride)
    this.arena.floats.copyWithin(base, this.base, this.base + this.capacity * this.stride)
    this.arena.release(this.base, (this.capacity + 1) * this.stride)
    this.base = base
    this.levels = resize(this.levels, (n) => new Uint8Array(n), 1)
    this.deleted = resize(this.deleted, (n) => new Uint8Array(n), 1)
    this.linked = resize(this.linked, (n) => new Uint8Array(n), 1)
    this.links0 = resize(this.links0, (n) => new Int32Array(n), this.m0 + 1)
    this.similarities0 = resize(this.similarities0, (n) => new Float32Array(n), this.m0 + 1)
    this.visited = new Uint32Array(capacity)
    this.visitEpoch = 0
    this.capacity = capacity
  }

  /** Returns the link array, similarity array and offset of the count of `slot`'s links on `level`. */
  private linksOf(slot: number, level: number): readonly [Int32Array, Float32Array, number] {
    if (level === 0) return [this.links0, this.similarities0, slot * (this.m0 + 1)]
    return [this.upperLinks[slot]!, this.upperSimilarities[slot]!, (level - 1) * (this.m + 1)]
  }

  /** Returns the arena offset of the vector in `slot`. */
  private offsetOf(slot: number): number {
    return this.base + slot * this.stride
  }

  /** Copies a query into the block's query row and returns the row's offset. */
  private writeQuery(query: ArrayLike<number>): number {
    const offset = this.base + this.capacity * this.stride
    this.arena.floats.set(query, offset)
    return offset
  }

  private similarity(a: number, b: number): number {
    return this.arena.dot(this.offsetOf(a), this.offsetOf(b), this.stride)
  }

  /** Returns the similarity of the vector at arena offset `query` to the vector in `slot`. */
  private similarityTo(query: number, slot: number): number {
    return this.arena.dot(query, this.offsetOf(slot), this.stride)
  }

  private nextVisitEpoch(): number {
    if (this.visitEpoch === 0xffffffff) {
      this.visited.fill(0)
      this.visitEpoch = 0
    }
    return ++this.visitEpoch
  }

  // ---------------------------------------------------------------------------
  // Searching a layer
  // ---------------------------------------------------------------------------

  /** Follows the most similar link on `level` from `entry` until no link improves; returns the node reached. */
  private greedyStep(query: number, entry: number, level: number): number {
    let current = entry
    let best = this.similarityTo(query, current)
    let improved = true
    while (improved) {
      improved = false
      const [links, , offset] = this.linksOf(current, level)
      const count = links[offset]!
      for (let i = 1; i <= count; i++) {
        const neighbour = links[offset + i]!
        const similarity = this.similarityTo(query, neighbour)
        if (similarity > best) {
          best = similarity
          current = neighbour
          improved = true
        }
      }
    }
    return current
  }

  /**
   * Searches `level` from `entry`, leaving the `ef` best nodes in `results`
   * (worst on top). Deleted nodes are followed but, when `liveOnly`, not
   * kept; `exclude` is never kept.
   */
  private searchLayer(query: number, entry: number, ef: number, level: number, liveOnly: boolean, exclude: number): void {
    const epoch = this.nextVisitEpoch()
    const visited = this.visited
    const candidates = this.candidates
    const results = this.results
    const arena = this.arena
    const stride = this.stride
    const base = this.base
    candidates.clear()
    results.clear()

    const keep = (slot: number) => slot !== exclude && !(liveOnly && this.deleted[slot] === 1)
    visited[entry] = epoch
    const entrySimilarity = this.similarityTo(query, entry)
    candidates.push(entry, -entrySimilarity)
    if (keep(entry)) results.push(entry, entrySimilarity)

    while (candidates.size > 0) {
      const current = candidates.topSlot
      const currentSimilarity = -candidates.topKey
      if (results.size >= ef && currentSimilarity < results.topKey) break
      candidates.pop()

      const links = level === 0 ? this.links0 : this.upperLinks[current]!
      const offset = level === 0 ? current * (this.m0 + 1) : (level - 1) * (this.m + 1)
      const count = links[offset]!
      for (let i = 1; i <= count; i++) {
        const neighbour = links[offset + i]!
        if (visited[neighbour] === epoch) continue
        visited[neighbour] = epoch
        const similarity = arena.dot(query, base + neighbour * stride, stride)
        if (results.size < ef || similarity > results.topKey) {
          candidates.push(neighbour, -similarity)
          if (keep(neighbour)) {
            results.push(neighbour, similarity)
            if (results.size > ef) results.pop()
          }
        }
      }
    }
  }

  /** Empties `results` into an array of at most `k` matches, best first. */
  private takeResults(k: number): Array<HnswMatch> {
    const results = this.results
    const sorted: Array<HnswMatch> = new Array(results.size)
    for (let i = results.size - 1; i >= 0; i--) {
      sorted[i] = { slot: results.topSlot, similarity: results.topKey }
      results.pop()
    }
    return sorted.length > k ? sorted.slice(0, k) : sorted
  }

  // ---------------------------------------------------------------------------
  // Linking
  // ---------------------------------------------------------------------------

  /** Connects a new node to the graph on each of its layers, and raises the entry point when its layer is the highest. */
  private link(slot: number): void {
    const query = this.offsetOf(slot)
    const level = this.levels[slot]!
    let entry = this.entryPoint
    for (let layer = this.topLevel; layer > level; layer--) entry = this.greedyStep(query, entry, layer)

    for (let layer = Math.min(level, this.topLevel); layer >= 0; layer--) {
      this.searchLayer(query, entry, this.efConstruction, layer, true, slot)
      const found = this.takeResults(this.efConstruction)
      if (found.length === 0) continue
      const maxLinks = layer === 0 ? this.m0 : this.m
      const chosen = this.selectNeighbours(found, maxLinks)
      const [links, similarities, offset] = this.linksOf(slot, layer)
      links[offset] = chosen.length
      for (let i = 0; i < chosen.length; i++) {
        links[offset + 1 + i] = chosen[i]!.slot
        similarities[offset + 1 + i] = chosen[i]!.similarity
      }
      for (const neighbour of chosen) this.addBackLink(neighbour.slot, slot, neighbour.similarity, layer)
      entry = found[0]!.slot
    }

    if (level > this.topLevel) {
      this.entryPoint = slot
      this.topLevel = level
    }
  }

  /**
   * Picks up to `maxLinks` of `found` (best first) by the HNSW heuristic. A
   * candidate is kept only when it is more similar to the new node than to
   * every candidate kept before it. Links then spread in all directions
   * instead of bunching in one cluster.
   */
  private selectNeighbours(found: ReadonlyArray<HnswMatch>, maxLinks: number): Array<HnswMatch> {
    if (found.length <= maxLinks) return [...found]
    const chosen: Array<HnswMatch> = []
    for (const candidate of found) {
      let diverse = true
      for (const kept of chosen) {
        if (this.similarity(candidate.slot, kept.slot) > candidate.similarity) {
          diverse = false
          break
        }
      }
      if (diverse) chosen.push(candidate)
      if (chosen.length === maxLinks) break
    }
    return chosen
  }

  /**
   * Links `neighbour` back to `slot`. A full link list drops its least
   * similar link when `slot` is more similar than that link.
   */
  private addBackLink(neighbour: number, slot: number, similarity: number, level: number): void {
    const [links, similarities, offset] = this.linksOf(neighbour, level)
    const maxLinks = level === 0 ? this.m0 : this.m
    const count = links[offset]!
    if (count < maxLinks) {
      links[offset + 1 + count] = slot
      similarities[offset + 1 + count] = similarity
      links[offset] = count + 1
      return
    }
    let weakest = 1
    for (let i = 2; i <= count; i++) {
      if (similarities[offset + i]! < similarities[offset + weakest]!) weakest = i
    }
    if (similarities[offset + weakest]! < similarity) {
      links[offset + weakest] = slot
      similarities[offset + weakest] = similarity
    }
  }

  /**
   * Removes a reused slot's old links in both directions. Links to it from
   * nodes it did not link to stay, and lead to the new vector.
   */
  private unlink(slot: number): void {
    for (let level = this.levels[slot]!; level >= 0; level--) {
      const [links, , offset] = this.linksOf(slot, level)
      const count = links[offset]!
      for (let i = 1; i <= count; i++) this.dropLink(links[offset + i]!, slot, level)
      links[offset] = 0
    }
  }

  private dropLink(from: number, to: number, level: number): void {
    if (this.levels[from]! < level) return
    const [links, similarities, offset] = this.linksOf(from, level)
    const count = links[offset]!
    for (let i = 1; i <= count; i++) {
      if (links[offset + i] !== to) continue
      links[offset + i] = links[offset + count]!
      similarities[offset + i] = similarities[offset + count]!
      links[offset] = count - 1
      return
    }
  }
}
