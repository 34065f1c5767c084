import { describe, expect, it } from 'vitest'
import { Backoff } from './backoff.js'
import { Reconnect } from './reconnect.js'
import { manualClock } from './test-clock.test-helper.js'

const BACKOFF = { initialDelayMs: 100, maxDelayMs: 1_000, stableAfterMs: 500 }

/** A Reconnect whose attempts are recorded as "<time> <url>"; random 0: delays of exactly half the ceiling. */
function loop(urls: string[], connect = true): { r: Reconnect; clock: ReturnType<typeof manualClock>; attempts: string[]; backoff: Backoff } {
  const clock = manualClock(0)
  const attempts: string[] = []
  const backoff = new Backoff(BACKOFF, () => 0)
  const r = new Reconnect({ urls, backoff, clock, connect, open: (url) => (attempts.push(`${clock.now()} ${url}`), true), drop: () => undefined })
  return { r, clock, attempts, backoff }
}

type Step = 'start' | 'opened' | 'failed' | 'dropped' | 'fatal' | 'connect' | 'disconnect' | { wait: number }

function run(urls: string[], steps: Step[]): string[] {
  const { r, clock, attempts } = loop(urls)
  for (const s of steps) {
    if (typeof s === 'object') clock.advance(s.wait)
    else if (s === 'start') r.start()
    else if (s === 'opened') r.opened()
    else if (s === 'failed') r.closed(false, false)
    else if (s === 'dropped') r.closed(true, false)
    else if (s === 'fatal') r.closed(false, true)
    else if (s === 'connect') r.connect()
    else r.disconnect()
  }
  r.destroy()
  return attempts
}

describe('Reconnect', () => {
  it.each<{ name: string; urls: string[]; steps: Step[]; attempts: string[] }>([
    { name: 'connects once started', urls: ['a'], steps: ['start'], attempts: ['0 a'] },
    { name: 'backs off after each failure: 50, 100, 200 ms', urls: ['a'], steps: ['start', 'failed', { wait: 50 }, 'failed', { wait: 100 }, 'failed', { wait: 199 }], attempts: ['0 a', '50 a', '150 a'] },
    { name: 'fails over to the next relay and around', urls: ['a', 'b'], steps: ['start', 'failed', { wait: 50 }, 'failed', { wait: 100 }], attempts: ['0 a', '50 b', '150 a'] },
    { name: 'a dropped connection to the only relay retries it', urls: ['a'], steps: ['start', 'opened', 'dropped', { wait: 50 }], attempts: ['0 a', '50 a'] },
    { name: 'a dropped connection fails over when there are others', urls: ['a', 'b'], steps: ['start', 'opened', 'dropped', { wait: 50 }], attempts: ['0 a', '50 b'] },
    { name: 'the backoff resets only after a stable connection', urls: ['a'], steps: ['start', 'failed', { wait: 50 }, 'opened', { wait: 500 }, 'dropped', { wait: 50 }], attempts: ['0 a', '50 a', '600 a'] },
    { name: 'a fatal refusal stops until connect()', urls: ['a'], steps: ['start', 'fatal', { wait: 10_000 }, 'connect'], attempts: ['0 a', '10000 a'] },
    { name: 'disconnect() cancels the pending retry; connect() goes back to the same relay', urls: ['a', 'b'], steps: ['start', 'opened', 'disconnect', 'dropped', { wait: 10_000 }, 'connect'], attempts: ['0 a', '10000 a'] },
    { name: 'nothing before start, even when connect() is called', urls: ['a'], steps: ['connect', { wait: 1_000 }], attempts: [] }
  ])('$name', ({ urls, steps, attempts }) => {
    expect(run(urls, steps)).toEqual(attempts)
  })

  it('does not connect when told not to, until connect()', () => {
    const { r, attempts } = loop(['a'], false)
    r.start()
    expect(attempts).toEqual([])
    r.connect()
    expect(attempts).toEqual(['0 a'])
    expect(r.wantConnected).toBe(true)
    r.destroy()
  })
})
