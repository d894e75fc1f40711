/** Seeded random vectors for the index tests. */

/** Returns a seeded generator of numbers in [0, 1) (mulberry32), so that failures reproduce. */
export const seededRandom = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const gaussian = (random: () => number): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())

export const normalize = (vector: Float32Array): Float32Array => {
  let norm = 0
  for (const value of vector) norm += value * value
  norm = Math.sqrt(norm)
  for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! / norm
  return vector
}

/** Returns a unit vector uniformly distributed on the sphere. */
export const randomUnitVector = (random: () => number, dimensions: number): Float32Array =>
  normalize(Float32Array.from({ length: dimensions }, () => gaussian(random)))

/**
 * Returns `source` plus random noise of length `noise`, normalized. With
 * noise 0.48 its cosine to the source is about 0.9, as a paraphrase is to a
 * cached question.
 */
export const nearDuplicate = (source: Float32Array, random: () => number, noise = 0.48): Float32Array => {
  const direction = randomUnitVector(random, source.length)
  return normalize(source.map((value, i) => value + noise * direction[i]!))
}

export const dot = (a: Float32Array, b: Float32Array): number => {
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!
  return sum
}
