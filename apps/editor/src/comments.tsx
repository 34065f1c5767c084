import { useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from 'react'
import * as Y from 'yjs'
import type { ShedReason } from '@meridian/policy'
import { ExternalStore, useCan, usePolicy, type DocumentHandle } from '@meridian/react'

export interface Comment {
  id: string
  author: string
  color: string
  text: string
  atMs: number
}

/** Comments live in the document itself (a Y.Array), so they sync and merge like the text. */
export function commentsOf(doc: Y.Doc): Y.Array<Comment> {
  return doc.getArray<Comment>('comments')
}

const REASONS: Readonly<Record<ShedReason, string>> = {
  offline: 'you are offline',
  'relay-read-only': 'the relay made this document read-only',
  'home-region-unreachable': 'the home region is unreachable',
  'never-synced': 'this copy has never synced with a relay',
  stale: 'this view may be out of date (staleness past its bound)',
  'too-many-pending': 'too many edits are waiting for the relay',
  'too-many-pending-bytes': 'too much data is waiting for the relay',
  'pending-too-old': 'edits have waited too long for the relay',
  'home-region-unknown': 'the home region cannot be reached to check',
  recovering: 'coming back once the connection has held steady'
}

/**
 * The comments side panel: a capability the policy can shed. When it is shed
 * the panel stays visible, read-only, and says why — comments on a view that
 * may be out of date would point at text the others no longer see.
 */
export function CommentsPanel({ handle, author, color }: { handle: DocumentHandle; author: string; color: string }): ReactNode {
  const on = useCan('comments', handle)
  const policy = usePolicy(handle)
  const state = policy?.capabilities.find((c) => c.name === 'comments')
  const comments = useComments(handle.doc)
  const [draft, setDraft] = useState('')

  const add = (): void => {
    const text = draft.trim()
    if (!on || text === '') return
    const id = `${handle.doc.clientID}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`
    commentsOf(handle.doc).push([{ id, author, color, text, atMs: Date.now() }])
    setDraft('')
  }

  return (
    <aside className={`comments ${on ? '' : 'shed'}`} aria-label="comments" data-state={on ? 'on' : 'shed'}>
      <h2>Comments</h2>
      {!on && (
        <p className="shed-reason" role="status">
          Paused: {state === undefined || state.reasons.length === 0 ? 'waiting for the first sync' : state.reasons.map((r) => REASONS[r]).join('; ')}
        </p>
      )}
      <ol className="comment-list">
        {comments.map((c) => (
          <li key={c.id}>
            <span className="who" style={{ color: c.color }}>{c.author}</span> {c.text}
          </li>
        ))}
      </ol>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          add()
        }}
      >
        <textarea id="comment-input" value={draft} disabled={!on} placeholder={on ? 'Write a comment…' : 'Comments are paused'} onChange={(e) => setDraft(e.target.value)} />
        <button type="submit" id="comment-add" disabled={!on || draft.trim() === ''}>Comment</button>
      </form>
    </aside>
  )
}

/** The comments array as a React value (the same subscription primitive as the hooks). */
function useComments(doc: Y.Doc): readonly Comment[] {
  const store = useMemo(() => new ExternalStore<readonly Comment[]>(commentsOf(doc).toArray()), [doc])
  useEffect(() => {
    const array = commentsOf(doc)
    const update = (): void => store.set(array.toArray())
    array.observe(update)
    update()
    return () => array.unobserve(update)
  }, [doc, store])
  return useSyncExternalStore(store.subscribe, store.get, store.get)
}
