import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react'
import type { Editor } from '@tiptap/react'
import {
  describeDurability,
  useConnection,
  useDurability,
  useOpenDocument,
  usePendingCount,
  usePolicy,
  usePresence,
  useUnloadGuard,
  type DocumentHandle
} from '@meridian/react'
import { crossTabSharing } from '@meridian/client/cross-tab'
import { indexedDbStore } from '@meridian/client/store'
import { deleteDigest } from '@meridian/client/digest'
import { policyEngine } from '@meridian/client/policy'
import { presence } from '@meridian/client/presence'
import { holdRefusedWrites } from '@meridian/client/refused-writes'
import { editorPolicy, type EditorConfig } from './config.js'
import { CollaborativeEditor } from './editor.js'
import { CommentsPanel } from './comments.js'
import { HistoryPanel } from './history.js'
import { exposeForTests } from './page-api.js'

export function App({ config }: { config: EditorConfig }): ReactNode {
  const options = useMemo(
    () => ({ docName: config.docName, urls: config.urls, store: indexedDbStore(), policy: editorPolicy(config), policyEngine, deleteDigest, presence, crossTabSharing, holdRefusedWrites }),
    [config]
  )
  const handle = useOpenDocument(options)
  if (handle === null) return <p className="loading">Opening {config.docName}…</p>
  return <Workspace key={handle.docName} handle={handle} config={config} />
}

function Workspace({ handle, config }: { handle: DocumentHandle; config: EditorConfig }): ReactNode {
  const [editor, setEditor] = useState<Editor | null>(null)
  const onEditor = useCallback((e: Editor | null) => setEditor(e), [])
  usePresenceIdentity(handle, config)
  useEffect(() => exposeForTests(handle, () => editor), [handle, editor])
  const policy = usePolicy(handle)
  const readOnly = policy !== null && !policy.writable
  return (
    <div className="page">
      <header className="bar">
        <h1>Meridian <span className="muted">editor</span></h1>
        <span className="doc">document <code>{config.docName}</code></span>
        <SaveBadge handle={handle} />
        <Connection handle={handle} />
        <Peers handle={handle} />
      </header>
      {readOnly && (
        <p className="banner read-only" role="status">
          Read-only: {policy.reasons.includes('home-region-unreachable') ? 'the document’s home region is unreachable' : 'the relay refuses writes for now'}. Your view stays live; editing comes back by itself.
        </p>
      )}
      <main>
        <CollaborativeEditor handle={handle} onEditor={onEditor} />
        <div className="side">
          <CommentsPanel handle={handle} author={config.userName} color={config.userColor} />
          <HistoryPanel handle={handle} urls={config.urls} author={config.userName} />
        </div>
      </main>
    </div>
  )
}

/** Publishes who we are (name, colour) for the others' cursors, and withdraws it when the page goes away. */
function usePresenceIdentity(handle: DocumentHandle, config: EditorConfig): void {
  useEffect(() => {
    const awareness = handle.provider.awareness
    if (awareness === null) return
    awareness.setLocalStateField('user', { name: config.userName, color: config.userColor })
    // A reload or a closed tab says goodbye at once instead of leaving a ghost cursor for the awareness timeout.
    const leave = (): void => awareness.setLocalState(null)
    window.addEventListener('pagehide', leave)
    return () => window.removeEventListener('pagehide', leave)
  }, [handle, config.userName, config.userColor])
}

/** Where the edits are: "saved on this device" → "saved on the relay" → "saved in k other regions". */
function SaveBadge({ handle }: { handle: DocumentHandle }): ReactNode {
  const { all } = useDurability(handle)
  const pending = usePendingCount(handle)
  const guarded = useUnloadGuard('relay', handle)
  const level = typeof all === 'string' ? all : 'replicated'
  return (
    <span className={`badge save ${level}`} id="save-state" data-level={level} title={guarded ? 'Leaving now asks for confirmation: some edits are not on the relay yet' : 'Everything is on the relay'}>
      {describeDurability(all)}
      {pending > 0 && <span className="muted"> · {pending} to send</span>}
    </span>
  )
}

function Connection({ handle }: { handle: DocumentHandle }): ReactNode {
  const { status, synced, relay } = useConnection(handle)
  const policy = usePolicy(handle)
  const label = status === 'connected' ? (synced ? 'live' : 'syncing') : status === 'connecting' ? 'connecting' : 'offline'
  return (
    <span className={`badge conn ${label}`} id="connection" title={relay !== null ? `relay ${relay.nodeId} · region ${relay.region}` : undefined}>
      {label}
      {policy !== null && policy.mode !== 'healthy' && <span className="muted"> · {policy.mode}</span>}
    </span>
  )
}

function Peers({ handle }: { handle: DocumentHandle }): ReactNode {
  const { peers, selfState } = usePresence(handle)
  const users = peers.flatMap((p) => {
    const user = p.state.user as { name?: unknown; color?: unknown } | undefined
    return typeof user?.name === 'string' ? [{ id: p.clientId, name: user.name, color: typeof user.color === 'string' ? user.color : '#888' }] : []
  })
  const self = selfState?.user as { name?: string; color?: string } | undefined
  return (
    <ul className="peers" aria-label="people here">
      {self?.name !== undefined && <li style={{ borderColor: self.color }} title="you">{self.name} (you)</li>}
      {users.map((u) => (
        <li key={u.id} style={{ borderColor: u.color }} data-peer={u.name}>{u.name}</li>
      ))}
    </ul>
  )
}
