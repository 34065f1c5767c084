import { useEffect, useSyncExternalStore } from 'react'
import type { ConnectionStatus, DurabilityLevel, RelayInfo } from '@meridian/client'
import type { PolicyDecision } from '@meridian/policy'
import { CLOSED_SNAPSHOT, EMPTY_PRESENCE, type DocumentSnapshot, type DurabilitySnapshot, type PresenceSnapshot } from './document-state.js'
import { durabilityAtLeast } from './durability-labels.js'
import { useDocument, type DocumentHandle } from './open-document.js'

const noSubscription = (): (() => void) => () => {}
const closedSnapshot = (): DocumentSnapshot => CLOSED_SNAPSHOT
const emptyPresence = (): PresenceSnapshot => EMPTY_PRESENCE

/**
 * The primitive the other hooks are made of: a value selected from the
 * document's snapshot, re-rendering only when that value changes. `selector`
 * must return a primitive or a part of the snapshot (not a new object each
 * call). Reads the nearest MeridianDocument unless `handle` is given. On the
 * server and before the document opens it reads CLOSED_SNAPSHOT.
 */
export function useDocumentSelector<T>(selector: (snapshot: DocumentSnapshot) => T, handle?: DocumentHandle | null): T {
  const fromContext = useDocument()
  const store = (handle === undefined ? fromContext : handle)?.state.snapshot
  const snapshot = useSyncExternalStore(store?.subscribe ?? noSubscription, store?.get ?? closedSnapshot, closedSnapshot)
  return selector(snapshot)
}

/** The whole snapshot: connection, policy, pending, durability, relay. */
export function useDocumentState(handle?: DocumentHandle | null): DocumentSnapshot {
  return useDocumentSelector((s) => s, handle)
}

export interface ConnectionState {
  readonly status: ConnectionStatus
  readonly synced: boolean
  readonly loaded: boolean
  readonly relay: RelayInfo | null
}

/** Connection status, whether a sync round completed, whether the local copy is loaded, the relay in use. */
export function useConnection(handle?: DocumentHandle | null): ConnectionState {
  const status = useDocumentSelector((s) => s.status, handle)
  const synced = useDocumentSelector((s) => s.synced, handle)
  const loaded = useDocumentSelector((s) => s.loaded, handle)
  const relay = useDocumentSelector((s) => s.relay, handle)
  return { status, synced, loaded, relay }
}

/** The policy decision (mode, capabilities, staleness bound); null until a document is open. */
export function usePolicy(handle?: DocumentHandle | null): PolicyDecision | null {
  return useDocumentSelector((s) => s.policy, handle)
}

/** Whether the app may offer `capability` now (false until a document is open). */
export function useCan(capability: string, handle?: DocumentHandle | null): boolean {
  return useDocumentSelector((s) => s.policy?.capabilities.some((c) => c.name === capability && c.on) ?? false, handle)
}

/** Durability of every local write so far, and of the last one. */
export function useDurability(handle?: DocumentHandle | null): DurabilitySnapshot {
  return useDocumentSelector((s) => s.durability, handle)
}

/** Local updates the relay has not acknowledged yet. */
export function usePendingCount(handle?: DocumentHandle | null): number {
  return useDocumentSelector((s) => s.pendingCount, handle)
}

/** Presence: this client's id and state, and every other client's awareness state. */
export function usePresence(handle?: DocumentHandle | null): PresenceSnapshot {
  const fromContext = useDocument()
  const store = (handle === undefined ? fromContext : handle)?.state.presence
  return useSyncExternalStore(store?.subscribe ?? noSubscription, store?.get ?? emptyPresence, emptyPresence)
}

/**
 * Asks the browser to confirm leaving the page while some local write has not
 * reached `level` yet (default `relay`: "saved on the relay"). Returns whether
 * the guard is armed, so the page can say why. No-op on the server.
 */
export function useUnloadGuard(level: DurabilityLevel = 'relay', handle?: DocumentHandle | null): boolean {
  const all = useDocumentSelector((s) => s.durability.all, handle)
  const open = useDocumentSelector((s) => s.open, handle)
  const armed = open && !durabilityAtLeast(all, level)
  useEffect(() => {
    if (!armed || typeof window === 'undefined') return
    const onBeforeUnload = (event: BeforeUnloadEvent): void => {
      event.preventDefault()
      // Older browsers show the prompt only when returnValue is set.
      event.returnValue = ''
    }
    window.addEventListener('beforeunload', onBeforeUnload)
    return () => window.removeEventListener('beforeunload', onBeforeUnload)
  }, [armed])
  return armed
}
