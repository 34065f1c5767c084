import { ClientStoreError, toClientStoreError } from './errors.js'
import { IDB_SCHEMA_VERSION, upgradeSchema } from './idb-schema.js'

export interface OpenDatabaseOptions {
  readonly factory: IDBFactory
  readonly dbName: string
  readonly timeoutMs: number
  /** Another connection wants a new version or to delete the database. */
  readonly onVersionChange: () => void
  /** The browser closed the connection (storage cleared, disk error). */
  readonly onForcedClose: () => void
}

/**
 * Opens (and on first use creates) the database on the given factory.
 *
 * Never hangs: an open that has not finished after `timeoutMs` rejects with
 * ERR_STORE_BLOCKED. That covers the `blocked` event (an older connection
 * ignores versionchange) and an open queued silently behind another tab's
 * blocked upgrade or delete. A connection that arrives after the timeout is
 * closed at once so it blocks nobody.
 */
export function openDatabase(options: OpenDatabaseOptions): Promise<IDBDatabase> {
  const { factory, dbName, timeoutMs } = options
  return new Promise((resolve, reject) => {
    let request: IDBOpenDBRequest
    try {
      request = factory.open(dbName, IDB_SCHEMA_VERSION)
    } catch (error) {
      // open() throws synchronously where storage is disabled (e.g. SecurityError in some private modes).
      reject(new ClientStoreError('ERR_STORE_UNAVAILABLE', `cannot open IndexedDB database '${dbName}': ${String(error)}`, { cause: error }))
      return
    }

    let settled = false
    let blocked = false
    const timer = setTimeout(() => {
      settled = true
      const why = blocked ? 'blocked by another connection that did not close' : 'did not finish (queued behind another connection)'
      reject(new ClientStoreError('ERR_STORE_BLOCKED', `opening IndexedDB database '${dbName}' ${why} within ${timeoutMs} ms`))
    }, timeoutMs)

    request.addEventListener('blocked', () => {
      // Keep waiting: the other connection may still close in response to its versionchange.
      blocked = true
    })
    request.addEventListener('upgradeneeded', (event) => {
      upgradeSchema(request.result, event.oldVersion)
    })
    request.addEventListener('success', () => {
      const db = request.result
      if (settled) {
        db.close()
        return
      }
      settled = true
      clearTimeout(timer)
      // Listeners go on before anything else can run, so no event is missed.
      db.addEventListener('versionchange', () => options.onVersionChange())
      db.addEventListener('close', () => options.onForcedClose())
      resolve(db)
    })
    request.addEventListener('error', (event) => {
      // Handled here; without this the error would also surface as an uncaught event in some browsers.
      event.preventDefault()
      if (settled) return
      settled = true
      clearTimeout(timer)
      const error = toClientStoreError(request.error, `cannot open IndexedDB database '${dbName}'`)
      // A closed-state error while opening means storage is unusable here, not that we closed anything.
      reject(
        error.code === 'ERR_STORE_CLOSED'
          ? new ClientStoreError('ERR_STORE_UNAVAILABLE', error.message, { cause: request.error })
          : error
      )
    })
  })
}
