import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { pino } from 'pino'
import { MemoryStorageAdapter } from '@meridian/storage'
import type { Clock, ClockTimer } from '@meridian/base'
import { Room } from './room.js'
import { AwarenessSweeper } from './room-presence.js'
import { DocSizeGuard } from './limits.js'

/** A clock moved by hand; counts its live intervals. */
function manualClock(): Clock & { advance(ms: number): void; intervals: number } {
  let now = 0
  const timers = new Map<number, { at: number; every: number | null; fn: () => void }>()
  let next = 1
  const clock = {
    intervals: 0,
    now: () => now,
    setTimeout: (fn: () => void, ms: number): ClockTimer => {
      timers.set(next, { at: now + ms, every: null, fn })
      return next++
    },
    clearTimeout: (t: ClockTimer | null | undefined) => void timers.delete(t as number),
    setInterval: (fn: () => void, ms: number): ClockTimer => {
      clock.intervals++
      timers.set(next, { at: now + ms, every: ms, fn })
      return next++
    },
    clearInterval: (t: ClockTimer | null | undefined) => {
      if (timers.delete(t as number)) clock.intervals--
    },
    advance(ms: number): void {
      const end = now + ms
      for (;;) {
        const due = [...timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0]
        if (due === undefined) break
        const [id, t] = due
        now = t.at
        if (t.every === null) timers.delete(id)
        else t.at += t.every
        t.fn()
      }
      now = end
    }
  }
  return clock
}

const options = (clock: Clock) => ({ storage: new MemoryStorageAdapter(), logger: pino({ level: 'silent' }), clock, compactAfterUpdates: 1000 })

function presence(clientId: number, clock = 1): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientId
  const awareness = new awarenessProtocol.Awareness(doc)
  clearInterval((awareness as unknown as { _checkInterval: ReturnType<typeof setInterval> })._checkInterval)
  // Each call bumps the awareness clock: a renewal must carry a higher one.
  for (let i = 0; i < clock; i++) awareness.setLocalState({ name: `c${clientId}`, n: i })
  const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [clientId])
  awareness.destroy()
  return update
}

describe('room memory', () => {
  it('times presence out on one shared sweep, which runs only while some room has presence', async () => {
    const clock = manualClock()
    // One sweeper per relay (the room manager's), shared by its rooms.
    const sweeper = new AwarenessSweeper(clock)
    const a = await Room.load('a', { ...options(clock), sweeper })
    const b = await Room.load('b', { ...options(clock), sweeper })
    expect(clock.intervals).toBe(0)
    a.applyAwareness(presence(11), { kind: 'bus' })
    b.applyAwareness(presence(22), { kind: 'bus' })
    expect(clock.intervals).toBe(1)
    clock.advance(20_000)
    b.applyAwareness(presence(22, 2), { kind: 'bus' }) // renewed
    clock.advance(14_000)
    expect(a.awareness?.getStates().has(11)).toBe(false)
    expect(b.awareness?.getStates().has(22)).toBe(true)
    expect(clock.intervals).toBe(1)
    clock.advance(20_000)
    expect(b.awareness?.getStates().has(22)).toBe(false)
    expect(clock.intervals).toBe(0)
    b.applyAwareness(presence(22, 3), { kind: 'bus' })
    expect(clock.intervals).toBe(1)
    b.destroy()
    a.destroy()
    expect(clock.intervals).toBe(0)
  })

  it('estimates a document size from the bytes of its changes, without a listener', async () => {
    const clock = manualClock()
    const room = await Room.load('s', options(clock))
    const guard = new DocSizeGuard(10_000)
    expect(guard.estimate(room)).toBeNull()
    expect(guard.wouldExceed(room, 10)).toBe(false)
    const measured = guard.estimate(room) as number
    const source = new Y.Doc()
    source.getText('t').insert(0, 'hello')
    const update = Y.encodeStateAsUpdate(source)
    await room.applyUpdate(update, { kind: 'server', actor: 'test' })
    expect(guard.estimate(room)).toBeGreaterThanOrEqual(measured + update.length)
    const exact = Y.encodeStateAsUpdate(room.doc).length
    expect(new DocSizeGuard(exact).wouldExceed(room, 1)).toBe(true)
    expect(new DocSizeGuard(exact + 1).wouldExceed(room, 1)).toBe(false)
    room.destroy()
  })

  it('a room nobody was present in holds no awareness; the first presence update makes it', async () => {
    const clock = manualClock()
    const room = await Room.load('p', options(clock))
    const peer = { id: 'p1', send: () => undefined, fail: () => undefined }
    room.addPeer(peer)
    await room.applyUpdate(Y.encodeStateAsUpdate(textDoc('hello')), { kind: 'server', actor: 'test' })
    room.removePeer(peer) // a peer that never sent presence leaves: nothing to remove, nothing made
    expect(room.awareness).toBeNull()
    expect(room.encodeAwarenessState()).toBeNull()
    room.applyAwareness(presence(33), { kind: 'bus' })
    expect(room.awareness?.getStates().has(33)).toBe(true)
    expect(room.encodeAwarenessState()).not.toBeNull()
    room.destroy()
  })

  it("a room's document listens only for its own updates (none of Yjs' provider events)", async () => {
    const room = await Room.load('l', options(manualClock()))
    const observers = (room.doc as unknown as { _observers: Map<string, Set<unknown>> })._observers
    expect([...observers.keys()]).toEqual(['update'])
    expect(observers.get('update')?.size).toBe(1)
    room.destroy()
  })
})

function textDoc(text: string): Y.Doc {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return doc
}
