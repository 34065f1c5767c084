import { createContext, createElement, useContext, useEffect, useRef, useState, type ReactNode } from 'react'
import * as Y from 'yjs'
import { MeridianProvider, type MeridianProviderOptions } from '@meridian/client'
import { DocumentState, type DocumentStateOptions } from './document-state.js'

/** Everything `useOpenDocument` takes: the provider's options (a fresh Y.Doc when `doc` is omitted) and the state options. */
export interface OpenDocumentOptions extends Omit<MeridianProviderOptions, 'doc'>, DocumentStateOptions {
  /** The document to sync; default a new Y.Doc per opened document (destroyed when it closes). */
  doc?: Y.Doc
  /**
   * Builds the provider (tests, or an app that wraps it). Default `new MeridianProvider(options)`.
   * Called only in the browser, from an effect.
   */
  createProvider?: (options: MeridianProviderOptions) => MeridianProvider
}

/** An open document: the SDK's provider, its doc and awareness, and the state the hooks read. */
export interface DocumentHandle {
  readonly provider: MeridianProvider
  readonly doc: Y.Doc
  readonly docName: string
  /** @internal The stores behind the hooks. */
  readonly state: DocumentState
}

/**
 * What identifies the document: when it changes the hook closes the old one and
 * opens the new one. Other options are read when the document opens (so an
 * inline options object does not reopen it on every render).
 */
export function documentKey(options: OpenDocumentOptions): string {
  const urls = options.urls ?? (options.url !== undefined ? [options.url] : [])
  return JSON.stringify([options.docName, urls, options.params ?? null])
}

/**
 * Opens a document with the SDK for as long as the calling component is
 * mounted, and returns it (null before it is open: on the server and during the
 * first client render). Safe under SSR: the provider (and IndexedDB) is only
 * ever touched from an effect, which servers do not run. Safe under
 * StrictMode's mount → unmount → mount: closing is deferred by one task, and a
 * remount of the same document in between keeps it open instead of opening
 * IndexedDB and the socket twice. Switching `docName` (or the relays) closes
 * the old document before its events can reach the new one.
 */
export function useOpenDocument(options: OpenDocumentOptions): DocumentHandle | null {
  const key = documentKey(options)
  const latest = useRef(options)
  latest.current = options
  const [handle, setHandle] = useState<DocumentHandle | null>(null)
  /** The open document and its pending close, carried over a StrictMode remount. */
  const held = useRef<{ key: string; handle: DocumentHandle; ownsDoc: boolean; closeTimer: ReturnType<typeof setTimeout> | null } | null>(null)

  useEffect(() => {
    let entry = held.current
    if (entry !== null && entry.key === key && entry.closeTimer !== null) {
      clearTimeout(entry.closeTimer)
      entry.closeTimer = null
    } else {
      entry = { key, handle: openHandle(latest.current), ownsDoc: latest.current.doc === undefined, closeTimer: null }
      held.current = entry
    }
    setHandle(entry.handle)
    const opened = entry
    return () => {
      opened.closeTimer = setTimeout(() => {
        if (held.current === opened) held.current = null
        closeHandle(opened.handle, opened.ownsDoc).catch(reportAsyncError)
      }, 0)
      // Hooks stop reading it at once (a switched document must not show the old one's state).
      setHandle((current) => (current === opened.handle ? null : current))
    }
  }, [key])

  return handle
}

function openHandle(options: OpenDocumentOptions): DocumentHandle {
  const { createProvider, maxReplicatedRegions, doc, ...providerOptions } = options
  const ydoc = doc ?? new Y.Doc()
  const full: MeridianProviderOptions = { ...providerOptions, doc: ydoc }
  const provider = createProvider !== undefined ? createProvider(full) : new MeridianProvider(full)
  const state = new DocumentState(provider, { maxReplicatedRegions })
  return { provider, doc: ydoc, docName: options.docName, state }
}

async function closeHandle(handle: DocumentHandle, ownsDoc: boolean): Promise<void> {
  handle.state.close()
  try {
    await handle.provider.destroy()
  } finally {
    if (ownsDoc) handle.doc.destroy()
  }
}

/** An error from closing, after the component is gone: nobody awaits it, so report it as the browser does. */
function reportAsyncError(error: unknown): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError
  if (typeof report === 'function') report(error)
  else console.error(error)
}

const DocumentContext = createContext<DocumentHandle | null>(null)

export interface MeridianDocumentProps {
  options: OpenDocumentOptions
  children?: ReactNode
}

/** Opens a document (see useOpenDocument) and makes it the one the hooks below read. */
export function MeridianDocument({ options, children }: MeridianDocumentProps): ReactNode {
  const handle = useOpenDocument(options)
  return createElement(DocumentContext.Provider, { value: handle }, children)
}

/** Provides an already open document (e.g. from useOpenDocument) to the hooks below. */
export const DocumentHandleProvider = DocumentContext.Provider

/** The document of the nearest MeridianDocument, or null (not open yet, or none). */
export function useDocument(): DocumentHandle | null {
  return useContext(DocumentContext)
}
