import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { mintToken } from '@meridian/relay'
import { createTestClient as createClient, startTestRelay as startRelay, storedDoc } from '@meridian/testing'

const SECRET = 'clients-secret-that-is-at-least-32-bytes'
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const token = (pattern: string, access: 'read' | 'write'): Promise<string> => mintToken({ secret: SECRET, docs: [{ pattern, access }], ttlSeconds: 300 })

function waitFor(check: () => boolean, what: string, doc: Y.Doc, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const onUpdate = (): void => {
      if (!check()) return
      doc.off('update', onUpdate)
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      doc.off('update', onUpdate)
      reject(new Error(`timed out waiting for ${what}`))
    }, timeoutMs)
    doc.on('update', onUpdate)
    onUpdate()
  })
}

describe('clients with tokens', () => {
  it('the stock y-websocket client (params: { token }) and the Meridian SDK sync through an auth-enabled relay; a read-only stock client only reads', async () => {
    const { relay, url, storage } = await startRelay({ auth: { mode: 'jwt', secret: SECRET } })
    cleanups.push(() => relay.close())

    const stock = new WebsocketProvider(url, 'team-1/doc', new Y.Doc(), {
      WebSocketPolyfill: WebSocket as never, disableBc: true, params: { token: await token('team-1/*', 'write') }
    })
    cleanups.push(() => stock.destroy())
    const meridian = createClient('team-1/doc', { url, params: { token: await token('team-1/**', 'write') } })
    cleanups.push(() => meridian.provider.destroy())
    const viewer = new WebsocketProvider(url, 'team-1/doc', new Y.Doc(), {
      WebSocketPolyfill: WebSocket as never, disableBc: true, params: { token: await token('team-1/doc', 'read') }
    })
    cleanups.push(() => viewer.destroy())
    const denied: string[] = []
    const warn = console.warn
    // y-websocket reports the relay's auth-denied with console.warn: that is the signal to wait for.
    let onDenied = (): void => undefined
    const deniedSeen = new Promise<void>((resolve) => { onDenied = resolve })
    console.warn = (...args: unknown[]) => {
      denied.push(args.join(' '))
      if (args.join(' ').includes('read-only')) onDenied()
    }
    cleanups.push(() => { console.warn = warn })

    stock.doc.getText('t').insert(0, 'stock ')
    meridian.doc.getText('t').insert(0, 'meridian ')
    await meridian.provider.whenAcknowledged({ timeoutMs: 5_000 })
    await waitFor(() => stock.doc.getText('t').length === 'stock meridian '.length, 'stock to converge', stock.doc)
    await waitFor(() => viewer.doc.getText('t').length === 'stock meridian '.length, 'viewer to converge', viewer.doc)
    expect(meridian.doc.getText('t').toString()).toBe(stock.doc.getText('t').toString())

    // The viewer's own edit is refused: y-websocket reports permission denied, nothing reaches the others.
    viewer.doc.getMap('m').set('vandalism', true)
    stock.doc.getMap('m').set('legit', true)
    await waitFor(() => meridian.doc.getMap('m').get('legit') === true, 'legit edit', meridian.doc)
    await waitFor(() => viewer.doc.getMap('m').get('legit') === true, 'viewer to keep reading', viewer.doc)
    await meridian.provider.whenAcknowledged({ timeoutMs: 5_000 })
    // The viewer's write and the stock client's arrive on different sockets, in either order.
    await Promise.race([deniedSeen, new Promise((resolve) => setTimeout(resolve, 5_000))])
    expect(denied.some((d) => d.includes('read-only'))).toBe(true)
    expect(meridian.doc.getMap('m').has('vandalism')).toBe(false)
    expect((await storedDoc(storage, 'team-1/doc')).getMap('m').toJSON()).toEqual({ legit: true })
    expect(meridian.errors).toEqual([])
  })
})
