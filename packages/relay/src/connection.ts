/**
 * A single-document socket: the document is the URL path, the token must
 * grant it, and one document session (doc-session.ts) speaks the protocol on
 * the socket. What every document socket shares — auth gate, pacing,
 * deadlines, `end` — is in socket-owner.ts.
 */
import type { RawData } from 'ws'
import type { MuxMessage } from '@meridian/protocol'
import { CLOSE_CODES } from './errors.js'
import { parseDocName } from './doc-name.js'
import type { Access, TokenClaims, VerifyResult } from './auth.js'
import type { ConnectionAccess } from './metrics.js'
import type { Broadcast } from './broadcast.js'
import type { RoomPeer } from './room.js'
import { verdictFor } from './auth-gate.js'
import { DocSession } from './doc-session.js'
import type { SessionHost } from './session-host.js'
import { refusal } from './connection-end.js'
import { SocketOwner } from './socket-owner.js'

export class Connection extends SocketOwner<DocSession> implements SessionHost {
  private docName = ''

  protected accepts(url: string): boolean {
    const parsed = parseDocName(url)
    if (!parsed.ok) {
      this.end('other', refusal('ERR_DOC_NAME', CLOSE_CODES.INVALID_MESSAGE, 'bad_doc_name', parsed.reason))
      return false
    }
    this.docName = parsed.docName
    this.relog()
    return true
  }

  protected logContext(): Record<string, unknown> | null {
    return this.docName === '' ? null : { doc: this.docName }
  }

  countAccess(counts: Record<Access, number>): void {
    if (this.state.kind === 'admitted') counts[this.state.live.access]++
  }

  protected admitWithoutAuth(): void {
    this.admitted('write', null)
  }

  protected verified(result: VerifyResult): void {
    const verdict = verdictFor(result, this.docName)
    switch (verdict.kind) {
      case 'deny':
        this.denied(verdict)
        return
      case 'admit':
        this.admitted(verdict.access, verdict.claims)
    }
  }

  private admitted(access: Access, claims: TokenClaims | null): void {
    const session = this.admit(claims, (held, heldBytes) => new DocSession(this, this.hub.sessionDeps, this.docName, access, held, heldBytes))
    session?.load()
  }

  /** The session's document is in memory: the socket counts as a connection from now on. */
  opened(access: Access): void {
    this.joined(access)
  }

  /** A token on the live socket: it must verify and still grant this document; access follows it. */
  refreshToken(token: string): void {
    this.refresh(token, (result) => {
      const verdict = verdictFor(result, this.docName)
      if (verdict.kind === 'deny') return verdict
      if (this.state.kind !== 'admitted') return null
      const session = this.state.live
      const previous = session.access
      if (session.setAccess(verdict.access)) {
        this.hub.metrics.connections.dec({ access: previous })
        this.hub.metrics.connections.inc({ access: verdict.access })
      }
      this.debug({ access: verdict.access }, 'token refreshed')
      return null
    })
  }

  /** Multiplexing messages mean nothing on a single-document socket: ignored, like other messages a client has no business sending. */
  nested(_type: MuxMessage['type']): void {}

  protected liveFrame(session: DocSession, data: RawData, isBinary: boolean, size: number): void {
    if (session.isOpen) session.frame(data, isBinary)
    else if (!session.hold({ kind: 'raw', data, isBinary }, size)) {
      this.end('other', refusal('ERR_LOADING_QUEUE_FULL', CLOSE_CODES.TRY_AGAIN_LATER, 'queue_overflow'))
    }
  }

  protected liveIsOpen(session: DocSession): boolean {
    return session.isOpen
  }

  protected gaugeAccess(session: DocSession): ConnectionAccess {
    return session.access
  }

  protected beforeEnd(session: DocSession): { send(message: Uint8Array): void } | null {
    return session.meridian ? this.writer : null
  }

  protected closeLive(session: DocSession): void {
    session.close()
  }

  send(message: Uint8Array): void {
    if (!this.isEnded) this.writer?.send(message)
  }

  deliver(broadcast: Broadcast, peer: RoomPeer): boolean {
    return !this.isEnded && this.writer !== null && this.writer.deliver(broadcast, peer)
  }
}
