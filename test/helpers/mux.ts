/** Shared pieces of the multiplexing tests (MeridianClient against real relays). */
import * as Y from 'yjs'
import type { MeridianProvider } from '@meridian/client'
import { MeridianClient, type MeridianClientOptions, type OpenOptions } from '@meridian/client/multiplex'
import { deleteDigest } from '@meridian/client/digest'
import { policyEngine } from '@meridian/client/policy'
import { presence } from '@meridian/client/presence'
import { NodeWebSocket, TEST_BACKOFF } from '@meridian/testing'


export interface TestMuxClient {
  client: MeridianClient
  /** The connection's `error` events as `CODE(relayCode): message`. */
  errors: string[]
  /** Each document's provider `error` events, by document name. */
  docErrors: Map<string, string[]>
  /** Opens a document and records its errors. */
  open(docName: string, options?: OpenOptions): MeridianProvider
}

/**
 * A MeridianClient for Node tests: `ws`, fast backoff, the kit's SDK parts
 * (policy engine, digest, presence; no cross-tab), and error recording.
 */
export function createMuxClient(options: MeridianClientOptions): TestMuxClient {
  const sdk = { policyEngine, deleteDigest, presence }
  const client = new MeridianClient({ WebSocket: NodeWebSocket, backoff: TEST_BACKOFF, connectTimeoutMs: 2_000, ...options, provider: { ...sdk, ...options.provider } })
  const errors: string[] = []
  const docErrors = new Map<string, string[]>()
  client.on('error', (e) => errors.push(`${e.code}(${e.relayCode ?? ''}): ${e.message}`))
  const open = (docName: string, openOptions?: OpenOptions): MeridianProvider => {
    const provider = client.open(docName, openOptions)
    if (!docErrors.has(docName)) {
      const list: string[] = []
      docErrors.set(docName, list)
      provider.on('error', (e) => list.push(`${e.code}(${e.relayCode ?? ''})`))
    }
    return provider
  }
  return { client, errors, docErrors, open }
}

/** The value of one Prometheus sample of a relay's /metrics (`name{labels}`), 0 when absent. */
export async function metric(relayUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(`${relayUrl.replace(/^ws/, 'http')}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `))
  return line === undefined ? 0 : Number(line.slice(sample.length + 1))
}

/** Resolves once `check(doc)` holds, tested on every update of `doc` (no polling); rejects after `timeoutMs` with `what`. */
export function whenDoc(doc: Y.Doc, check: (doc: Y.Doc) => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const onUpdate = (): void => {
      if (!check(doc)) return
      doc.off('update', onUpdate)
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      doc.off('update', onUpdate)
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
    }, timeoutMs)
    doc.on('update', onUpdate)
    onUpdate()
  })
}

/** Resolves once every doc has the same state vector, checked on each update of any of them; rejects after `timeoutMs`. */
export function whenSameState(docs: readonly Y.Doc[], what: string, timeoutMs = 5_000): Promise<void> {
  const same = (): boolean => {
    const [first, ...rest] = docs.map((d) => Buffer.from(Y.encodeStateVector(d)).toString('hex'))
    return rest.every((sv) => sv === first)
  }
  return new Promise((resolve, reject) => {
    const done = (): void => {
      for (const d of docs) d.off('update', check)
      clearTimeout(timer)
    }
    const check = (): void => {
      if (!same()) return
      done()
      resolve()
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
    }, timeoutMs)
    for (const d of docs) d.on('update', check)
    check()
  })
}

/** Resolves with the provider's next `error` event, or rejects after `timeoutMs`. */
export function nextError(provider: MeridianProvider, timeoutMs = 5_000): Promise<{ code: string; relayCode: string | undefined }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no error event on ${provider.docName} within ${timeoutMs} ms`)), timeoutMs)
    provider.once('error', (e) => {
      clearTimeout(timer)
      resolve({ code: e.code, relayCode: e.relayCode })
    })
  })
}
