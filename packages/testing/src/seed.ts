import { randomSeed } from './prng.js'

/**
 * A seed from text (e.g. a test's `process.env.MERIDIAN_SEED`), or a fresh
 * one when it is empty. The kit never reads the environment itself.
 */
export function parseSeed(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return randomSeed()
  const seed = Number(text)
  if (!Number.isSafeInteger(seed) || seed < 0) throw new TypeError(`a seed is a non-negative integer, got '${text}'`)
  return seed
}
