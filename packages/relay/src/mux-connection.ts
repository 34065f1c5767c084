/**
 * A multiplexed socket (`/_meridian/mux`, FEATURE_MULTIPLEX; PROTOCOL.md,
 * "Multiplexing"): many documents over one socket. The socket is checked as a
 * single-document one is (Origin, token, pre-auth budget, rate, idleness,
 * expiry, revocation: socket-owner.ts), but a token only has to verify: what
 * it grants is checked per document at `doc-open`. After the connection-level
 * `hello`, each document gets a client-chosen id and a document session of
 * its own (mux-doc-host.ts); per-document refusals close that document
 * (`doc-closed`), never the socket. What the relay sends in one turn goes out
 * as one `batch` (`MuxBatcher`, @meridian/protocol).
 */
import type { RawData } from 'ws'
import { MAX_BATCH_ENTRIES, MuxBatcher, type HelloMessage, type Message } from '@meridian/protocol'
import { CLOSE_CODES, RelayError } from './errors.js'
import { checkDocName } from './doc-name.js'
import type { Access, CompiledGrant, TokenClaims, VerifyResult } from './auth.js'
import { labelOf, type ConnectionAccess } from './metrics.js'
import { connectionVerdict, grantFor } from './auth-gate.js'
import { negotiateMuxHello } from './hello.js'
import type { DocSessionDeps } from './session-host.js'
import { refusal } from './connection-end.js'
import { SocketOwner } from './socket-owner.js'
import { byteLength, decodeBytes, decodeFrame, type DecodedFrame, type QueuedFrame } from './frames.js'
import { MuxDocHost, refuseDoc, type MuxSocket } from './mux-doc-host.js'

/** Largest batch the relay builds, unless `maxMessageBytes` is smaller. */
export const MAX_BATCH_BYTES = 256 * 1024

/** What a multiplexed socket's token admitted. */
class MuxLive {
  /** Before the connection-level hello only a hello (or a token) may come; then documents. */
  phase: 'hello' | 'open' = 'hello'
  readonly docs = new Map<number, MuxDocHost>()
  /** Made with the hello's answer (nothing is sent before). */
  batcher: MuxBatcher | null = null
  /** Bytes held for documents still loading, together (each document's own bound is the session's). */
  heldBytes = 0

  /** `grants`: what the token grants (null: auth is off, every document is writable). */
  constructor(public grants: readonly CompiledGrant[] | null) {}
}

export class MuxConnection extends SocketOwner<MuxLive> implements MuxSocket {
  get sessionDeps(): DocSessionDeps {
    return this.hub.sessionDeps
  }

  /** The path was the multiplexing path (doc-socket.ts): nothing else in the URL matters. */
  protected accepts(): boolean {
    return true
  }

  protected logContext(): Record<string, unknown> {
    return { mux: true }
  }

  /** Each document counts by its access, loading or open (a single-document socket counts its one). */
  countAccess(counts: Record<Access, number>): void {
    if (this.state.kind !== 'admitted') return
    for (const host of this.state.live.docs.values()) counts[host.session.access]++
  }

  protected admitWithoutAuth(): void {
    this.admitted(null, null)
  }

  protected verified(result: VerifyResult): void {
    const verdict = connectionVerdict(result)
    switch (verdict.kind) {
      case 'deny':
        this.denied(verdict)
        return
      case 'admit':
        this.admitted(verdict.claims, verdict.grants)
    }
  }

  private admitted(claims: TokenClaims | null, grants: readonly CompiledGrant[] | null): void {
    let held: QueuedFrame[] = []
    const live = this.admit(claims, (frames) => {
      held = frames
      return new MuxLive(grants)
    })
    if (live === null) return
    // What came with or after the pre-auth token, in order.
    for (const frame of held) {
      if (this.state.kind !== 'admitted') return
      switch (frame.kind) {
        case 'decoded':
          this.handle(live, frame.message, frame.bytes)
          break
        case 'raw':
          this.liveFrame(live, frame.data, frame.isBinary, byteLength(frame.data))
      }
    }
  }

  protected liveFrame(live: MuxLive, data: RawData, isBinary: boolean, size: number): void {
    const decoded = decodeFrame(data, isBinary, this.hub.decodeLimits, this.hub.metrics)
    if (this.decodedOk(decoded)) this.handle(live, decoded.message, size)
  }

  /** False (and the socket ended) for a frame or batch entry that does not decode. */
  private decodedOk(decoded: DecodedFrame): decoded is Extract<DecodedFrame, { ok: true }> {
    if (decoded.ok) return true
    this.count(decoded.rejected)
    this.reject(decoded.error, decoded.closeCode)
    return false
  }

  /** One connection-level message (a frame, or an entry of a batch). */
  private handle(live: MuxLive, message: Message, bytes: number): void {
    // A batch and a doc-frame are counted by what they carry.
    if (message.type === 'batch') return this.batch(live, message.messages)
    if (message.type !== 'doc-frame') this.hub.metrics.messageIn(labelOf(message.type), bytes)
    switch (live.phase) {
      case 'hello':
        if (message.type === 'auth-token') this.refreshToken(message.token)
        else if (message.type === 'hello') this.hello(live, message)
        else this.end('other', refusal('ERR_PROTOCOL', CLOSE_CODES.INVALID_MESSAGE, 'other', `${message.type} before the connection hello`))
        return
      case 'open':
        break
    }
    switch (message.type) {
      case 'hello':
        this.hello(live, message)
        return
      case 'auth-token':
        this.refreshToken(message.token)
        return
      case 'doc-open':
        this.docOpen(live, message.docId, message.docName)
        return
      case 'doc-close':
        // An id not in use may race the relay's doc-closed: ignored.
        live.docs.get(message.docId)?.closeByClient()
        return
      case 'doc-frame':
        live.docs.get(message.docId)?.frame(message.message)
        return
      case 'sync-step1':
      case 'sync-step2':
      case 'sync-update':
      case 'awareness':
      case 'query-awareness':
      case 'ds-digest':
      case 'ds-ranges':
        this.misplaced(`${message.type} outside a doc-frame`)
        return
      case 'auth-denied':
      case 'ack':
      case 'error':
      case 'ds-reply':
      case 'status':
      case 'replicated':
      case 'doc-closed':
        // Meaningless from a client; ignored, as on a single-document socket.
        return
      default: {
        const unknown: never = message
        return unknown
      }
    }
  }

  /** A client's batch: its entries in order, as if each came alone (bounded: entries were bounded by bytes when decoded). */
  private batch(live: MuxLive, entries: readonly Uint8Array[]): void {
    if (entries.length > MAX_BATCH_ENTRIES) {
      this.misplaced(`a batch of ${entries.length} messages (at most ${MAX_BATCH_ENTRIES})`)
      return
    }
    for (const entry of entries) {
      if (this.state.kind !== 'admitted') return
      const decoded = decodeBytes(entry, this.hub.decodeLimits, this.hub.metrics)
      if (!this.decodedOk(decoded)) return
      this.handle(live, decoded.message, entry.length)
    }
  }

  /** The connection-level hello: it opens the socket (answered again if repeated). */
  private hello(live: MuxLive, message: HelloMessage): void {
    const outcome = negotiateMuxHello(message, { nodeId: this.hub.options.nodeId, region: this.hub.options.region })
    switch (outcome.kind) {
      case 'refused':
        this.count('malformed')
        this.end('protocol', { error: outcome.error, closeCode: CLOSE_CODES.INVALID_MESSAGE, refused: 'other' })
        return
      case 'agreed':
        break
    }
    if (live.phase === 'hello') {
      live.phase = 'open'
      this.joined('mux')
      const maxBatchBytes = Math.min(MAX_BATCH_BYTES, this.hub.options.maxMessageBytes)
      live.batcher = new MuxBatcher(maxBatchBytes, (frame) => this.writer?.write(frame))
    }
    this.hub.metrics.messageOut(outcome.reply)
    this.write(outcome.reply)
  }

  /** Opens `docName` as `docId`, or refuses it (doc-closed) as a single-document socket would be refused. */
  private docOpen(live: MuxLive, docId: number, docName: string): void {
    if (live.docs.has(docId)) {
      this.misplaced(`doc-open: id ${docId} is in use`)
      return
    }
    const parsed = checkDocName(docName)
    if (!parsed.ok) {
      refuseDoc(this, docId, refusal('ERR_DOC_NAME', CLOSE_CODES.INVALID_MESSAGE, 'bad_doc_name', parsed.reason), 'other', this.log)
      return
    }
    if (live.docs.size >= this.hub.options.maxDocsPerConnection) {
      refuseDoc(this, docId, refusal('ERR_TOO_MANY_DOCS', CLOSE_CODES.TRY_AGAIN_LATER, 'too_many_docs'), 'other', this.log)
      return
    }
    let access: Access = 'write'
    if (live.grants !== null && this.claims !== null) {
      const verdict = grantFor(live.grants, this.claims, parsed.docName)
      if (verdict.kind === 'deny') {
        refuseDoc(this, docId, verdict.end, verdict.closed, this.log)
        return
      }
      access = verdict.access
    }
    const host = new MuxDocHost(this, docId, parsed.docName, access)
    live.docs.set(docId, host)
    host.session.load()
  }

  /** A connection-level token: it must verify (else the socket ends); every open document is checked again against it. */
  private refreshToken(token: string): void {
    this.refresh(token, (result) => {
      const verdict = connectionVerdict(result)
      if (verdict.kind === 'deny') return verdict
      if (this.state.kind !== 'admitted') return null
      const live = this.state.live
      live.grants = verdict.grants
      for (const host of [...live.docs.values()]) {
        const grant = grantFor(verdict.grants, verdict.claims, host.docName)
        switch (grant.kind) {
          case 'deny':
            host.end(grant.closed, grant.end)
            break
          case 'admit':
            host.setAccess(grant.access)
        }
      }
      this.debug({ docs: live.docs.size }, 'token refreshed')
      return null
    })
  }

  get writable(): boolean {
    return this.state.kind === 'admitted' && this.state.live.batcher !== null
  }

  write(frame: Uint8Array): void {
    if (this.state.kind === 'admitted') this.state.live.batcher?.push(frame)
  }

  reserveHeld(bytes: number): boolean {
    if (this.state.kind !== 'admitted') return false
    const live = this.state.live
    if (live.heldBytes + bytes > this.hub.options.maxBufferedBytes) return false
    live.heldBytes += bytes
    return true
  }

  releaseHeld(bytes: number): void {
    if (this.state.kind === 'admitted') this.state.live.heldBytes -= bytes
  }

  docEnded(docId: number): void {
    if (this.state.kind === 'admitted') this.state.live.docs.delete(docId)
  }

  misplaced(detail: string): void {
    this.count('malformed')
    this.reject(new RelayError('ERR_PROTOCOL', detail), CLOSE_CODES.INVALID_MESSAGE)
  }

  protected liveIsOpen(live: MuxLive): boolean {
    return live.phase === 'open'
  }

  protected gaugeAccess(): ConnectionAccess {
    return 'mux'
  }

  /** What is queued goes out before the close frame; the connection level has no `error` message. */
  protected beforeEnd(live: MuxLive): null {
    live.batcher?.flush()
    return null
  }

  protected closeLive(live: MuxLive): void {
    for (const host of [...live.docs.values()]) host.socketEnded()
    live.docs.clear()
  }
}
