import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay } from '@meridian/relay'
import { MeridianProvider, type WebSocketConstructor } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { decodeMessage, encodeMessage } from '@meridian/protocol'
import { serveDemo } from './static.js'

let base: string
let relay: Relay
let url: string

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'meridian-static-'))
  const dist = join(base, 'dist')
  await mkdir(join(dist, 'assets'), { recursive: true })
  await writeFile(join(dist, 'index.html'), '<!doctype html><title>demo</title>')
  await writeFile(join(dist, 'assets', 'app-1234.js'), 'console.log(1)')
  await writeFile(join(dist, 'sw.js'), 'self.x = 1')
  await writeFile(join(dist, '.env'), 'SECRET=1')
  await writeFile(join(base, 'secret.txt'), 'outside')
  await symlink(join(base, 'secret.txt'), join(dist, 'link-out.txt'))
  relay = await buildRelay({ storage: new MemoryStorageAdapter() })
  await serveDemo(relay.app, { dir: dist })
  url = await relay.listen({ port: 0, host: '127.0.0.1' })
})

afterAll(async () => {
  await relay?.close()
  if (base !== undefined) await rm(base, { recursive: true, force: true })
})

const get = (path: string, method: 'GET' | 'HEAD' | 'POST' = 'GET') => relay.app.inject({ method, url: path })

describe('serving the demo from the relay (--serve-demo)', () => {
  it('redirects / to /demo/, keeping the query', async () => {
    expect((await get('/')).headers.location).toBe('/demo/')
    const withQuery = await get('/?doc=x')
    expect(withQuery.statusCode).toBe(302)
    expect(withQuery.headers.location).toBe('/demo/?doc=x')
    expect((await get('/demo')).headers.location).toBe('/demo/')
  })

  it('serves files with their content type; hashed assets are cached for good, the rest revalidates', async () => {
    const index = await get('/demo/?doc=todos')
    expect(index.statusCode).toBe(200)
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(index.headers['cache-control']).toBe('no-cache')
    expect(index.body).toContain('<title>demo</title>')
    const script = await get('/demo/assets/app-1234.js')
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(script.headers['cache-control']).toContain('immutable')
    expect(script.headers['x-content-type-options']).toBe('nosniff')
    expect(script.body).toBe('console.log(1)')
    expect((await get('/demo/sw.js')).headers['content-type']).toBe('text/javascript; charset=utf-8')
    const head = await get('/demo/index.html', 'HEAD')
    expect(head.statusCode).toBe(200)
    expect(head.body).toBe('')
  })

  it('never leaves the folder and serves no dotfiles', async () => {
    for (const path of [
      '/demo/../secret.txt',
      '/demo/%2e%2e/secret.txt',
      '/demo/..%2fsecret.txt',
      '/demo/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/demo/..%5csecret.txt',
      '/demo/link-out.txt',
      '/demo/.env',
      '/demo/%00',
      '/demo/%E0%A4%A',
      '/demo/missing.js'
    ]) {
      const res = await get(path)
      // 400: fastify itself rejects a malformed URL before any hook runs.
      expect([path, res.statusCode]).toEqual([path, path.includes('%E0') ? 400 : 404])
      expect(res.body).not.toContain('outside')
    }
  })

  it('only GET and HEAD; the relay endpoints keep working', async () => {
    expect((await get('/demo/index.html', 'POST')).statusCode).toBe(404)
    expect((await get('/healthz')).json()).toEqual({ status: 'ok' })
    expect((await get('/readyz')).statusCode).toBe(200)
  })

  it('WebSocket upgrades still reach documents, including ones named demo/...', async () => {
    // The SDK (which percent-encodes the name) on a document literally named "demo/notes".
    const doc = new Y.Doc()
    const provider = new MeridianProvider({ doc, docName: 'demo/notes', url, store: new MemoryClientStore(), WebSocket: WebSocket as unknown as WebSocketConstructor })
    await provider.whenSynced({ timeoutMs: 5_000 })
    doc.getText('t').insert(0, 'hello')
    await provider.whenAcknowledged({ timeoutMs: 5_000 })
    await provider.destroy()

    // A y-websocket style client with the raw path /demo/notes, even on a path that is also a served file.
    for (const path of ['/demo/notes', '/demo/index.html', '/']) {
      const reply = await new Promise<string>((resolve) => {
        const socket = new WebSocket(`${url}${path}`)
        socket.binaryType = 'nodebuffer'
        socket.on('open', () => socket.send(encodeMessage({ type: 'sync-step1', stateVector: new Uint8Array([0]) })))
        socket.on('message', (data: Buffer) => {
          const message = decodeMessage(new Uint8Array(data))
          if (message.type === 'sync-step2') {
            const received = new Y.Doc()
            Y.applyUpdate(received, message.update)
            socket.close()
            resolve(`synced:${received.getText('t').toString()}`)
          }
        })
        socket.on('close', (code) => resolve(`closed:${code}`))
        socket.on('unexpected-response', (_req, res) => resolve(`http:${res.statusCode}`))
      })
      // "/" names no document: the relay refuses it as before (the redirect is for HTTP only).
      expect([path, reply]).toEqual([path, path === '/demo/notes' ? 'synced:hello' : path === '/' ? 'closed:4401' : 'synced:'])
    }
  })

  it('refuses to start without a built demo', async () => {
    const other = await buildRelay({ storage: new MemoryStorageAdapter() })
    await expect(serveDemo(other.app, { dir: join(base, 'nope') })).rejects.toThrow(/no built demo/)
    await other.close()
  })
})

describe('a second app under its own prefix (--serve-editor)', () => {
  it('serves it under /editor/ next to the demo, without taking over /', async () => {
    const both = await buildRelay({ storage: new MemoryStorageAdapter() })
    try {
      await serveDemo(both.app, { dir: join(base, 'dist') })
      await serveDemo(both.app, { dir: join(base, 'dist'), prefix: '/editor/' })
      const inject = (path: string) => both.app.inject({ method: 'GET', url: path })
      expect((await inject('/editor/?doc=notes')).statusCode).toBe(200)
      expect((await inject('/editor/assets/app-1234.js')).body).toBe('console.log(1)')
      expect((await inject('/editor?doc=x')).headers.location).toBe('/editor/?doc=x')
      expect((await inject('/')).headers.location).toBe('/demo/')
      expect((await inject('/editor/.env')).statusCode).toBe(404)
      await expect(serveDemo(both.app, { dir: join(base, 'nope'), prefix: '/editor/' })).rejects.toThrow(/--serve-editor: no built editor/)
      await expect(serveDemo(both.app, { dir: join(base, 'dist'), prefix: 'editor' })).rejects.toThrow(/prefix must look like/)
    } finally {
      await both.close()
    }
  })
})
