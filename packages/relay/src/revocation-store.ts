/**
 * Revocations kept in the relay's storage, as a document of their own
 * (`_meridian/revocations`, a name no client may open): a Y.Map per kind,
 * `jti` or `sub` → when it was revoked (ms since the epoch). Being a document,
 * it survives restarts, is shared by every relay on the same storage (loaded
 * from it at start, live changes through the region bus) and travels the mesh
 * like any other document. Each relay applies every entry, whoever wrote it,
 * to its in-memory RevocationList and closes the connections it revokes.
 */
import type { RoomManager } from './rooms.js'
import type { Room } from './room.js'

export const REVOCATIONS_DOC = '_meridian/revocations'

export type RevocationKind = 'jti' | 'sub'

export interface RevocationStoreDeps {
  rooms: RoomManager
  /** Applies one revocation locally (the list and the live connections it ends). */
  apply: (kind: RevocationKind, key: string, atMs: number) => void
}

export class RevocationStore {
  private room: Room | null = null

  private constructor(private readonly deps: RevocationStoreDeps) {}

  /** Loads the stored revocations (applying each) and follows later changes. Rejects if storage cannot be read. */
  static async open(deps: RevocationStoreDeps): Promise<RevocationStore> {
    const store = new RevocationStore(deps)
    await store.liveRoom()
    return store
  }

  /** Records a revocation; resolves once it is durable in storage (rejects if it could not be stored). */
  async record(match: { jti?: string; sub?: string }, atMs: number): Promise<void> {
    const room = await this.liveRoom()
    await room.transact((doc) => {
      if (match.jti !== undefined) doc.getMap<number>('jti').set(match.jti, atMs)
      if (match.sub !== undefined) doc.getMap<number>('sub').set(match.sub, atMs)
    }, { kind: 'server', actor: 'revocations' })
  }

  /** Lets the room go (the relay is closing). */
  close(): void {
    if (this.room !== null) this.deps.rooms.release(this.room)
    this.room = null
  }

  /** The document, loaded again if it left memory (after a storage failure): every entry is applied again. */
  private async liveRoom(): Promise<Room> {
    if (this.room !== null && this.room.live) return this.room
    if (this.room !== null) this.deps.rooms.release(this.room)
    const room = await this.deps.rooms.acquire(REVOCATIONS_DOC)
    this.room = room
    for (const kind of ['jti', 'sub'] as const) {
      const map = room.doc.getMap<number>(kind)
      for (const [key, at] of map) if (typeof at === 'number') this.deps.apply(kind, key, at)
      // Changes from anywhere: this relay's own writes, the region bus, the mesh.
      map.observe((event) => {
        for (const key of event.keysChanged) {
          const at = map.get(key)
          if (typeof at === 'number') this.deps.apply(kind, key, at)
        }
      })
    }
    return room
  }
}
