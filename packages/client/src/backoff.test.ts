import { describe, expect, it } from 'vitest'
import { Backoff, DEFAULT_BACKOFF } from './backoff.js'

describe('Backoff', () => {
  // Equal jitter: delay n lies in [ceiling / 2, ceiling], ceiling = min(max, initial · 2^n).
  it.each([
    { attempt: 0, random: 0, delayMs: 125 },
    { attempt: 0, random: 0.999_999, delayMs: 250 },
    { attempt: 1, random: 0, delayMs: 250 },
    { attempt: 3, random: 0.5, delayMs: 1_500 },
    { attempt: 7, random: 0, delayMs: 15_000 },
    { attempt: 8, random: 0, delayMs: 15_000 },
    { attempt: 40, random: 1, delayMs: 30_000 }
  ])('attempt $attempt with random $random waits $delayMs ms', ({ attempt, random, delayMs }) => {
    const backoff = new Backoff(DEFAULT_BACKOFF, () => random)
    for (let i = 0; i < attempt; i++) backoff.nextDelayMs()
    expect(backoff.attempts).toBe(attempt)
    expect(backoff.nextDelayMs()).toBeCloseTo(delayMs, 0)
  })

  it('starts over after reset', () => {
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 1_000, stableAfterMs: 0 }, () => 0)
    expect([backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs()]).toEqual([50, 100, 200])
    backoff.reset()
    expect(backoff.attempts).toBe(0)
    expect(backoff.nextDelayMs()).toBe(50)
  })
})
