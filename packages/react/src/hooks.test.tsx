// @vitest-environment jsdom
// First: makes Node's encoders produce this realm's typed arrays (see the helper).
import './jsdom-realm.test-helper.js'
import { StrictMode, type ReactNode } from 'react'
import { act, cleanup, render, screen, waitFor } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import { MeridianProvider, type MeridianProviderOptions } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { policyEngine } from '@meridian/client/policy'
import { presence } from '@meridian/client/presence'
import { createTestClient, NodeWebSocket, startTestRelay, TEST_BACKOFF, type TestRelay } from '@meridian/testing'
import {
  describeDurability,
  MeridianDocument,
  useCan,
  useConnection,
  useDocument,
  useDocumentState,
  useDurability,
  usePendingCount,
  usePolicy,
  usePresence,
  useUnloadGuard,
  type DocumentHandle,
  type OpenDocumentOptions
} from './index.js'

const WAIT = { timeout: 10_000 }
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  cleanup()
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function relay(): Promise<TestRelay> {
  const r = await startTestRelay()
  cleanups.push(() => r.relay.close())
  return r
}

/** Options for a Node test: `ws`, an in-memory store, fast reconnects; records every provider it builds. */
function options(docName: string, url: string | undefined, built: MeridianProvider[] = []): OpenDocumentOptions {
  return {
    docName,
    ...(url !== undefined ? { url } : {}),
    WebSocket: NodeWebSocket,
    backoff: TEST_BACKOFF,
    store: new MemoryClientStore(),
    policy: { capabilities: [{ name: 'comments', maxStalenessMs: 30_000, requires: 'online' }] },
    policyEngine,
    presence,
    createProvider: (o: MeridianProviderOptions) => {
      const p = new MeridianProvider(o)
      built.push(p)
      return p
    }
  }
}

/** Waits until `provider` is destroyed (a destroyed provider rejects every waiter with ERR_DESTROYED at once). */
async function whenDestroyed(provider: MeridianProvider): Promise<void> {
  await waitFor(async () => {
    const outcome = await provider.whenDurable('all', 'local').then(() => 'alive', (e: { code?: string }) => e.code)
    expect(outcome).toBe('ERR_DESTROYED')
  }, WAIT)
}

let captured: DocumentHandle | null = null
function Status(): ReactNode {
  captured = useDocument()
  const state = useDocumentState()
  const { status, synced } = useConnection()
  const policy = usePolicy()
  const comments = useCan('comments')
  const durability = useDurability()
  const pending = usePendingCount()
  const presence = usePresence()
  const guarded = useUnloadGuard('relay')
  const names = presence.peers.map((p) => String((p.state.user as { name?: string } | undefined)?.name)).join(',')
  return (
    <dl>
      <dd data-testid="doc">{state.docName ?? 'none'}</dd>
      <dd data-testid="status">{status}{synced ? ' synced' : ''}</dd>
      <dd data-testid="mode">{policy?.mode ?? 'closed'}</dd>
      <dd data-testid="comments">{comments ? 'on' : 'off'}</dd>
      <dd data-testid="saved">{describeDurability(durability.all)}</dd>
      <dd data-testid="last">{durability.lastWrite === null ? 'none' : describeDurability(durability.lastWrite)}</dd>
      <dd data-testid="pending">{pending}</dd>
      <dd data-testid="peers">{names}</dd>
      <dd data-testid="guard">{guarded ? 'armed' : 'off'}</dd>
    </dl>
  )
}

const text = (id: string): string => screen.getByTestId(id).textContent ?? ''

describe('@meridian/react on a real relay (jsdom, React Testing Library)', () => {
  it('status, policy, can(), pending, durability local → relay, and the unload guard follow the SDK', async () => {
    const { url } = await relay()
    render(<MeridianDocument options={options('hooks-basic', url)}><Status /></MeridianDocument>)
    await waitFor(() => expect(text('status')).toBe('connected synced'), WAIT)
    await waitFor(() => expect(text('comments')).toBe('on'), WAIT)
    expect(text('mode')).toBe('healthy')
    expect(text('last')).toBe('none')
    expect(text('guard')).toBe('off')

    const handle = captured as DocumentHandle
    await act(async () => {
      await handle.provider.disconnect()
    })
    await waitFor(() => expect(text('comments')).toBe('off'), WAIT)
    act(() => handle.doc.getText('t').insert(0, 'hello'))
    expect(text('pending')).toBe('1')
    await waitFor(() => expect(text('saved')).toBe('saved on this device'), WAIT)
    expect(text('last')).toBe('saved on this device')
    expect(text('guard')).toBe('armed')
    const leaving = new Event('beforeunload', { cancelable: true })
    window.dispatchEvent(leaving)
    expect(leaving.defaultPrevented).toBe(true)

    act(() => handle.provider.connect())
    await waitFor(() => expect(text('saved')).toBe('saved on the relay'), WAIT)
    expect(text('last')).toBe('saved on the relay')
    expect(text('pending')).toBe('0')
    expect(text('guard')).toBe('off')
    const leavingNow = new Event('beforeunload', { cancelable: true })
    window.dispatchEvent(leavingNow)
    expect(leavingNow.defaultPrevented).toBe(false)
  })

  it('presence: another client’s awareness state appears, and goes when it leaves', async () => {
    const { url } = await relay()
    render(<MeridianDocument options={options('hooks-presence', url)}><Status /></MeridianDocument>)
    await waitFor(() => expect(text('status')).toBe('connected synced'), WAIT)
    const other = createTestClient('hooks-presence', { url })
    other.provider.awareness?.setLocalStateField('user', { name: 'Ada', color: '#c33' })
    await waitFor(() => expect(text('peers')).toBe('Ada'), WAIT)
    await other.provider.destroy()
    await waitFor(() => expect(text('peers')).toBe(''), WAIT)
  })

  it('StrictMode: the double mount opens one provider, and unmounting destroys it', async () => {
    const { url } = await relay()
    const built: MeridianProvider[] = []
    const { unmount } = render(
      <StrictMode>
        <MeridianDocument options={options('hooks-strict', url, built)}><Status /></MeridianDocument>
      </StrictMode>
    )
    await waitFor(() => expect(text('status')).toBe('connected synced'), WAIT)
    expect(built).toHaveLength(1)
    const handle = captured as DocumentHandle
    unmount()
    await whenDestroyed(built[0] as MeridianProvider)
    expect(handle.state.snapshot.listenerCount).toBe(0)
  })

  it('a Y.Doc passed in stays the app’s: closing destroys the provider, not the doc; an owned doc is destroyed', async () => {
    const { url } = await relay()
    const built: MeridianProvider[] = []
    const mine = new Y.Doc()
    const destroyed: string[] = []
    mine.on('destroy', () => destroyed.push('mine'))
    const first = render(<MeridianDocument options={{ ...options('hooks-own-doc', url, built), doc: mine }}><Status /></MeridianDocument>)
    await waitFor(() => expect(text('status')).toBe('connected synced'), WAIT)
    first.unmount()
    await whenDestroyed(built[0] as MeridianProvider)
    const second = render(<MeridianDocument options={options('hooks-owned-doc', url, built)}><Status /></MeridianDocument>)
    const owned = (captured as DocumentHandle).doc
    owned.on('destroy', () => destroyed.push('owned'))
    second.unmount()
    await whenDestroyed(built[1] as MeridianProvider)
    await waitFor(() => expect(destroyed).toEqual(['owned']), WAIT)
  })

  it('unmount while connecting: the provider is destroyed, nothing leaks, no late state update', async () => {
    const { url } = await relay()
    const built: MeridianProvider[] = []
    const errors = vi.spyOn(console, 'error')
    cleanups.push(() => errors.mockRestore())
    const { unmount } = render(<MeridianDocument options={options('hooks-unmount', url, built)}><Status /></MeridianDocument>)
    expect(built).toHaveLength(1)
    const provider = built[0] as MeridianProvider
    expect(provider.status).not.toBe('connected')
    unmount()
    await whenDestroyed(provider)
    expect(provider.status).toBe('disconnected')
    expect(errors).not.toHaveBeenCalled()
  })

  it('a document switched under mounted hooks: the old one closes, the hooks show the new one only', async () => {
    const { url } = await relay()
    const built: MeridianProvider[] = []
    const view = (docName: string): ReactNode => <MeridianDocument options={options(docName, url, built)}><Status /></MeridianDocument>
    const { rerender } = render(view('switch-a'))
    await waitFor(() => expect(text('status')).toBe('connected synced'), WAIT)
    const first = captured as DocumentHandle
    act(() => first.doc.getText('t').insert(0, 'in a'))
    await waitFor(() => expect(text('saved')).toBe('saved on the relay'), WAIT)

    rerender(view('switch-b'))
    expect(text('doc')).not.toBe('switch-a') // at once: never the old document's state under the new name
    await waitFor(() => expect(text('doc')).toBe('switch-b'), WAIT)
    await waitFor(() => expect(text('status')).toBe('connected synced'), WAIT)
    expect(built.map((p) => p.docName)).toEqual(['switch-a', 'switch-b'])
    await whenDestroyed(built[0] as MeridianProvider)
    expect(first.state.snapshot.listenerCount).toBe(0)
    expect((captured as DocumentHandle).doc.getText('t').toString()).toBe('')
    expect(text('last')).toBe('none')
  })
})
