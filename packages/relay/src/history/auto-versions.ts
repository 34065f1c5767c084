/**
 * Automatic versions (owned by buildRelay, on the relay's injected clock).
 * Each relay watches the documents it holds and counts the changes **it
 * accepted**: its clients' writes and its own server-side changes (HTTP,
 * restores). Changes that came from other relays (mesh, anti-entropy, bus)
 * are the other relay's to version. When `decideAutoVersion` (of
 * @meridian/history) says so, the relay takes an `auto` version.
 *
 * Several relays may version the same document (clients in two regions, or
 * two relays of a region): an automatic version's id is the hash of the state
 * it holds, so relays that version the same state write the same key, and
 * the history document keeps one entry once they merge — no duplicates.
 *
 * History documents themselves are watched for retention: a client's append
 * schedules a retention pass.
 */
import type { Logger } from 'pino'
import type { Clock, ClockTimer } from '@meridian/base'
import { decideAutoVersion, liveDocNameOf, type AutoVersionOptions } from '@meridian/history'
import type { ChangeSource } from '../change-source.js'
import { Deadlines, type Scheduled } from '../deadlines.js'
import type { RoomChange } from '../room.js'
import { isSystemDocument, type RoomManager } from '../rooms.js'
import type { HistoryService } from './history-service.js'

export interface AutoVersionsDeps {
  rooms: RoomManager
  clock: Clock
  logger: Logger
  nodeId: string
  service: HistoryService
  /** null: no automatic versions (retention still runs on clients' appends). */
  policy: AutoVersionOptions | null
  /** How long after a client appends to a history document retention runs. */
  retentionDelayMs: number
}

/** Whether a change counts as this relay's activity on the document (see above). */
export function countsAsActivity(source: ChangeSource): boolean {
  switch (source.kind) {
    case 'client':
      return true
    case 'server':
      // The history component's own writes are not activity (they would version themselves).
      return !source.actor.startsWith('history:auto')
    case 'mesh':
    case 'anti-entropy':
    case 'bus':
    case 'bus-catch-up':
    case 'bus-merge':
      return false
  }
}

/** A document's changes since its last automatic version; scheduled (Deadlines) while a decision waits. */
interface Activity extends Scheduled {
  readonly docName: string
  firstChangeMs: number | null
  lastChangeMs: number | null
  capturing: boolean
}

export class AutoVersions {
  private readonly activity = new Map<string, Activity>()
  /** When waiting documents are decided again: one timer for all of them, not a timer and closure per active document. */
  private readonly rechecks: Deadlines<Activity>
  private readonly retentionTimers = new Map<string, ClockTimer>()
  private readonly unsubscribe: () => void
  private closed = false
  /** Captures and retention passes started and not yet settled (tests and close wait for them). */
  private readonly inFlight = new Set<Promise<unknown>>()

  constructor(private readonly d: AutoVersionsDeps) {
    this.rechecks = new Deadlines(d.clock, (a) => this.decide(a))
    // One listener for every room's changes (none per room).
    this.unsubscribe = d.rooms.onRoomChange((room, change) => this.changed(room.name, change))
  }

  private changed(docName: string, change: RoomChange): void {
    const history = liveDocNameOf(docName)
    if (history !== null) {
      if (change.source.kind === 'client') this.scheduleRetention(history)
      return
    }
    if (isSystemDocument(docName) || this.d.policy === null) return
    if (countsAsActivity(change.source)) this.note(docName)
  }

  private note(docName: string): void {
    if (this.closed) return
    const now = this.d.clock.now()
    let a = this.activity.get(docName)
    if (a === undefined) this.activity.set(docName, (a = { docName, firstChangeMs: null, lastChangeMs: null, capturing: false, deadlineIndex: -1, deadlineAt: 0 }))
    a.firstChangeMs ??= now
    a.lastChangeMs = now
    this.decide(a)
  }

  private decide(a: Activity): void {
    if (this.closed || a.capturing || this.d.policy === null) return
    this.rechecks.delete(a)
    const now = this.d.clock.now()
    const decision = decideAutoVersion(a, now, this.d.policy)
    switch (decision.action) {
      case 'idle':
        return
      case 'wait':
        this.rechecks.set(a, now + Math.max(1, decision.recheckAtMs - now))
        return
      case 'capture':
        this.capture(a)
        return
    }
  }

  private capture(a: Activity): void {
    const { docName } = a
    a.capturing = true
    // Changes from now on count towards the next version.
    a.firstChangeMs = null
    a.lastChangeMs = null
    this.track(this.d.service.create(docName, { kind: 'auto', author: `relay:${this.d.nodeId}`, actor: 'auto' })
      .then(({ version, created }) => this.d.logger.debug({ doc: docName, version: version.id, created }, 'automatic version'))
      .catch((err: unknown) => this.d.logger.error({ err, doc: docName }, 'automatic version failed'))
      .finally(() => {
        a.capturing = false
        if (a.firstChangeMs === null) this.activity.delete(docName)
        else this.decide(a)
      }))
  }

  private scheduleRetention(docName: string): void {
    if (this.closed || this.retentionTimers.has(docName)) return
    this.retentionTimers.set(docName, this.d.clock.setTimeout(() => {
      this.retentionTimers.delete(docName)
      if (this.closed) return
      this.track(this.d.service.applyRetention(docName).catch((err: unknown) => this.d.logger.error({ err, doc: docName }, 'history retention failed')))
    }, this.d.retentionDelayMs))
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p)
    void p.finally(() => this.inFlight.delete(p))
  }

  /** Resolves once every capture and retention pass started so far has settled. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
  }

  /** Stops every timer; captures in flight finish (the rooms flush them on close). */
  close(): Promise<void> {
    this.closed = true
    this.unsubscribe()
    this.rechecks.stop()
    for (const t of this.retentionTimers.values()) this.d.clock.clearTimeout(t)
    this.retentionTimers.clear()
    return this.idle()
  }
}
