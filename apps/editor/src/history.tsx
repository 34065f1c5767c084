import { useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from 'react'
import * as Y from 'yjs'
import { MeridianProvider } from '@meridian/client'
import { indexedDbStore } from '@meridian/client/store'
import { holdRefusedWrites } from '@meridian/client/refused-writes'
import { VersionHistory, versionsMap, type RootHints, type VersionMeta } from '@meridian/history'
import { ExternalStore, usePolicy, type DocumentHandle } from '@meridian/react'

/** The editor's roots (editor.tsx, comments.tsx): no inference needed. */
export const EDITOR_ROOTS: RootHints = { body: 'xml', comments: 'array' }

/**
 * The history panel: the document's versions (named and automatic, from the
 * companion document `_meridian/history/<doc>`, opened with a second
 * provider on the same relays), taking a named version, a read-only preview
 * of one, and restoring it — a forward change the others receive like any
 * edit, refused while the document is read-only.
 */
export function HistoryPanel({ handle, urls, author }: { handle: DocumentHandle; urls: string[]; author: string }): ReactNode {
  const history = useVersionHistory(handle, urls, author)
  if (history === null) return <aside className="history" aria-label="version history"><h2>History</h2></aside>
  return <Versions key={history.history.docName} handle={handle} history={history} />
}

function Versions({ handle, history }: { handle: DocumentHandle; history: VersionHistory }): ReactNode {
  const versions = useVersions(history)
  const policy = usePolicy(handle)
  const writable = policy?.writable ?? true
  const [label, setLabel] = useState('')
  const [preview, setPreview] = useState<{ id: string; text: string; changes: string } | null>(null)
  const [message, setMessage] = useState<string | null>(null)

  const take = (): void => {
    try {
      const { version } = history.createVersion(label.trim() === '' ? new Date().toLocaleTimeString() : label.trim())
      setLabel('')
      setMessage(`Version “${version.label}” taken`)
    } catch (err) {
      setMessage(`Could not take a version: ${describe(err)}`)
    }
  }
  const show = (v: VersionMeta): void => {
    const doc = history.open(v.id)
    try {
      setPreview({ id: v.id, text: plainText(doc.getXmlFragment('body')), changes: changesSince(history, v.id) })
    } finally {
      doc.destroy()
    }
  }
  const restore = (v: VersionMeta): void => {
    try {
      history.restore(v.id)
      setMessage(`Restored “${v.label || v.kind}”`)
      setPreview(null)
    } catch (err) {
      setMessage(`Not restored: ${describe(err)}`)
    }
  }

  return (
    <aside className="history" aria-label="version history">
      <h2>History</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          take()
        }}
      >
        <input id="version-label" value={label} placeholder="Name this version" onChange={(e) => setLabel(e.target.value)} />
        <button type="submit" id="version-take" disabled={!writable}>Take a version</button>
      </form>
      {message !== null && <p className="history-message" role="status">{message}</p>}
      <ol className="version-list">
        {[...versions].reverse().map((v) => (
          <li key={v.id} data-version={v.label} data-kind={v.kind}>
            <span className="label">{v.label || v.kind}</span>
            <span className="muted"> · {v.kind} · {new Date(v.createdAtMs).toLocaleTimeString()}</span>
            <span className="actions">
              <button type="button" className="preview" onClick={() => show(v)}>Preview</button>
              <button type="button" className="restore" disabled={!writable} title={writable ? undefined : 'read-only: restoring is a write'} onClick={() => restore(v)}>Restore</button>
            </span>
          </li>
        ))}
      </ol>
      {preview !== null && (
        <section className="version-preview" aria-label="version preview">
          <h3>Preview <span className="muted">(read-only) · {preview.changes}</span></h3>
          <pre id="version-preview">{preview.text}</pre>
          <button type="button" onClick={() => setPreview(null)}>Close</button>
        </section>
      )}
    </aside>
  )
}

/** Opens the history document for as long as the panel is shown (an effect: providers connect, so not in render). */
function useVersionHistory(handle: DocumentHandle, urls: string[], author: string): VersionHistory | null {
  const [history, setHistory] = useState<VersionHistory | null>(null)
  useEffect(() => {
    const opened = new VersionHistory({
      live: handle.provider,
      // The same relays; the history document keeps its own local copy (never the live one's).
      connect: (doc, docName) => new MeridianProvider({ doc, docName, urls, store: indexedDbStore(), holdRefusedWrites }),
      author,
      hints: EDITOR_ROOTS
    })
    setHistory(opened)
    return () => {
      setHistory(null)
      opened.destroy().catch((err: unknown) => console.error('closing the history document failed', err))
    }
  }, [handle, urls, author])
  return history
}

/** The version list as a React value, updated as the history document changes (here or anywhere). */
function useVersions(history: VersionHistory): readonly VersionMeta[] {
  const store = useMemo(() => new ExternalStore<readonly VersionMeta[]>(history.list()), [history])
  useEffect(() => {
    const map = versionsMap(history.history.doc)
    const update = (): void => store.set(history.list())
    map.observe(update)
    update()
    return () => map.unobserve(update)
  }, [history, store])
  return useSyncExternalStore(store.subscribe, store.get, store.get)
}

/** The text of an editor fragment, a line per block. */
function plainText(fragment: Y.XmlFragment | Y.XmlElement): string {
  const lines: string[] = []
  for (const node of fragment.toArray()) {
    if (node instanceof Y.XmlText) lines.push(node.toString().replace(/<[^>]*>/g, ''))
    else if (node instanceof Y.XmlElement) lines.push(plainText(node))
  }
  return lines.join('\n')
}

function changesSince(history: VersionHistory, id: string): string {
  let inserted = 0
  let deleted = 0
  for (const root of history.diff(id, 'now').roots) {
    if (root.kind !== 'xml') continue
    for (const op of root.ops) {
      if (op.op === 'insert' && op.node === 'text') inserted += op.text.length
      if (op.op === 'delete' && op.node === 'text') deleted += op.text.length
    }
  }
  return `since then: +${inserted} −${deleted} characters`
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err)
}
