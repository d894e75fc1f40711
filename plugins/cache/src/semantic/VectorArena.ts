/**
 * One block of memory for the vectors of every semantic index in the
 * process, with a dot product compiled to WebAssembly SIMD.
 *
 * The dot product is where an HNSW index spends its time. In V8 a plain
 * loop over a Float32Array does one multiply-add at a time; the WebAssembly
 * kernel does four. Vectors live in the module's linear memory so that the
 * kernel reads them in place. Every index shares this memory, because a
 * memory of its own per partition would cost at least one 64 KiB page even
 * for a partition of one vector.
 *
 * Blocks come in power-of-two sizes from a free list per size. The memory
 * grows when no free block fits and never shrinks, so it stays at the peak
 * use plus up to half for rounding.
 *
 * Where WebAssembly SIMD is unavailable, the same layout is kept in an
 * ArrayBuffer and the dot product runs in JavaScript.
 */

/** Floats per vector are rounded up to a multiple of this, the SIMD lane count. */
export const LANES = 4

/** The smallest block, in floats (64 bytes, one cache line on common CPUs). */
const MIN_BLOCK_FLOATS = 16
const PAGE_BYTES = 65_536

/**
 * The kernel in WebAssembly binary format. Its one function,
 * `dot(a: i32, b: i32, n: i32) -> f32`, sums `a[i] * b[i]` over `n` floats
 * (a multiple of 4) from byte offsets `a` and `b` of the imported memory
 * `env.memory`, four lanes at a time. The text form is:
 *
 *   (func (export "dot") (param $a i32) (param $b i32) (param $n i32) (result f32)
 *     (local $sum v128) (local $end i32)
 *     (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n) (i32.const 2))))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $a) (local.get $end)))
 *       (local.set $sum (f32x4.add (local.get $sum)
 *         (f32x4.mul (v128.load (local.get $a)) (v128.load (local.get $b)))))
 *       (local.set $a (i32.add (local.get $a) (i32.const 16)))
 *       (local.set $b (i32.add (local.get $b) (i32.const 16)))
 *       (br 0)))
 *     (f32.add (f32.add (f32.add (f32x4.extract_lane 0 (local.get $sum)) (f32x4.extract_lane 1 (local.get $sum)))
 *       (f32x4.extract_lane 2 (local.get $sum))) (f32x4.extract_lane 3 (local.get $sum))))
 */
const kernelBody = [
  // locals: one v128 ($sum, 3), one i32 ($end, 4)
  0x02, 0x01, 0x7b, 0x01, 0x7f,
  // $end = $a + ($n << 2)
  0x20, 0x00, 0x20, 0x02, 0x41, 0x02, 0x74, 0x6a, 0x21, 0x04,
  // block, loop, br_if 1 ($a >= $end)
  0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x20, 0x04, 0x4f, 0x0d, 0x01,
  // $sum = f32x4.add($sum, f32x4.mul(v128.load $a, v128.load $b))
  0x20, 0x03, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, 0x20, 0x01, 0xfd, 0x00, 0x04, 0x00, 0xfd, 0xe6, 0x01, 0xfd, 0xe4, 0x01, 0x21, 0x03,
  // $a += 16, $b += 16, br 0, end loop, end block
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, 0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, 0x0c, 0x00, 0x0b, 0x0b,
  // the sum of the four lanes
  0x20, 0x03, 0xfd, 0x1f, 0x00, 0x20, 0x03, 0xfd, 0x1f, 0x01, 0x92, 0x20, 0x03, 0xfd, 0x1f, 0x02, 0x92, 0x20, 0x03, 0xfd, 0x1f, 0x03, 0x92,
  0x0b
]

const section = (id: number, content: ReadonlyArray<number>): Array<number> => [id, content.length, ...content]

const kernelModule = new Uint8Array([
  // "\0asm", version 1
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // type section: (i32, i32, i32) -> f32
  ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7d]),
  // import section: env.memory, a memory of at least one page
  ...section(2, [0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x01]),
  // function section: one function of type 0
  ...section(3, [0x01, 0x00]),
  // export section: "dot" is function 0
  ...section(7, [0x01, 0x03, 0x64, 0x6f, 0x74, 0x00, 0x00]),
  // code section
  ...section(10, [0x01, kernelBody.length, ...kernelBody])
])

type DotKernel = (aByteOffset: number, bByteOffset: number, floats: number) => number

/** Rounds a vector length up to a whole number of SIMD lanes. */
export const strideOf = (dimensions: number): number => Math.ceil(dimensions / LANES) * LANES

export class VectorArena {
  /** Whether the dot product runs as WebAssembly SIMD. */
  readonly simd: boolean
  private readonly memory: WebAssembly.Memory | undefined
  private buffer: ArrayBuffer
  /** A view of the whole arena; replaced when the arena grows, so read it again after any allocation. */
  floats: Float32Array
  private readonly kernel: DotKernel
  /** Floats handed out so far from the top of the arena. */
  private top = 0
  private readonly freeBlocks = new Map<number, Array<number>>()

  constructor(options: { readonly simd?: boolean } = {}) {
    let kernel: DotKernel | undefined
    let memory: WebAssembly.Memory | undefined
    if (options.simd !== false && WebAssembly.validate(kernelModule)) {
      memory = new WebAssembly.Memory({ initial: 1 })
      const instance = new WebAssembly.Instance(new WebAssembly.Module(kernelModule), { env: { memory } })
      kernel = instance.exports.dot as DotKernel
    }
    this.simd = kernel !== undefined
    this.memory = memory
    this.buffer = memory?.buffer ?? new ArrayBuffer(PAGE_BYTES)
    this.floats = new Float32Array(this.buffer)
    this.kernel = kernel ?? this.scalarDot
  }

  /** Returns the offset, in floats, of a free block of at least `floats` floats, all zero. */
  allocate(floats: number): number {
    const size = blockSize(floats)
    const reused = this.freeBlocks.get(size)?.pop()
    if (reused !== undefined) {
      this.floats.fill(0, reused, reused + size)
      return reused
    }
    const offset = this.top
    this.ensureCapacity(offset + size)
    this.top = offset + size
    return offset
  }

  /** Returns a block from {@link allocate} to the free list; `floats` is the size it was allocated with. */
  release(offset: number, floats: number): void {
    const size = blockSize(floats)
    let list = this.freeBlocks.get(size)
    if (list === undefined) {
      list = []
      this.freeBlocks.set(size, list)
    }
    list.push(offset)
  }

  /** Returns the dot product of `floats` floats (a multiple of {@link LANES}) at float offsets `a` and `b`. */
  dot(a: number, b: number, floats: number): number {
    return this.kernel(a * 4, b * 4, floats)
  }

  /** Bytes the arena holds, free blocks included. */
  get bytes(): number {
    return this.buffer.byteLength
  }

  private ensureCapacity(floats: number): void {
    const needed = floats * 4
    if (needed <= this.buffer.byteLength) return
    const target = Math.max(needed, this.buffer.byteLength * 2)
    if (this.memory !== undefined) {
      this.memory.grow(Math.ceil((target - this.buffer.byteLength) / PAGE_BYTES))
      this.buffer = this.memory.buffer
    } else {
      const grown = new ArrayBuffer(Math.ceil(target / PAGE_BYTES) * PAGE_BYTES)
      new Uint8Array(grown).set(new Uint8Array(this.buffer))
      this.buffer = grown
    }
    this.floats = new Float32Array(this.buffer)
  }

  private readonly scalarDot: DotKernel = (aByteOffset, bByteOffset, floats) => {
    const values = this.floats
    const a = aByteOffset >> 2
    const b = bByteOffset >> 2
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    for (let i = 0; i < floats; i += 4) {
      s0 += values[a + i]! * values[b + i]!
      s1 += values[a + i + 1]! * values[b + i + 1]!
      s2 += values[a + i + 2]! * values[b + i + 2]!
      s3 += values[a + i + 3]! * values[b + i + 3]!
    }
    return s0 + s1 + s2 + s3
  }
}

/** Returns the smallest power-of-two block size of at least `floats` floats. */
const blockSize = (floats: number): number => {
  let size = MIN_BLOCK_FLOATS
  while (size < floats) size *= 2
  return size
}

let shared: VectorArena | undefined

/** Returns the process's arena, created on first use. */
export const sharedArena = (): VectorArena => {
  shared ??= new VectorArena()
  return shared
}
