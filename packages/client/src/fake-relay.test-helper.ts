import * as Y from 'yjs'
import { encodeMessage } from '@meridian/protocol'
import type { WebSocketConstructor, WebSocketLike } from './options.js'

/** A relay connection the test drives: it opens, speaks and closes when told to. */
export class FakeSocket implements WebSocketLike {
  binaryType = 'blob'
  readyState = 0
  bufferedAmount = 0
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  readonly sent: Uint8Array[] = []
  closedByClient = false

  send(data: Uint8Array): void {
    this.sent.push(data)
  }

  close(): void {
    this.readyState = 3
    this.closedByClient = true
  }

  open(): void {
    this.readyState = 1
    this.onopen?.({})
  }

  /** The relay's step 1 (a plain y-websocket server's: no hello, so the client answers after its hello wait). */
  step1(): void {
    this.onmessage?.({ data: encodeMessage({ type: 'sync-step1', stateVector: Y.encodeStateVector(new Y.Doc()) }) })
  }

  closeFromRelay(code: number, reason: string): void {
    this.readyState = 3
    this.onclose?.({ code, reason })
  }
}

/** The sockets one provider made (each construction is a connection attempt). */
export function fakeRelay(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = []
  const WebSocket = class extends FakeSocket {
    constructor(_url: string) {
      super()
      sockets.push(this)
    }
  }
  return { WebSocket, sockets }
}
