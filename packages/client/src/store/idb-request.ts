/**
 * The two promises the store needs over raw IndexedDB (in place of the `idb`
 * library). Both settle from IndexedDB's own events, and continuations run as
 * microtasks, so a transaction stays active across `await`s between requests.
 */

/** The request's result, or its error. */
export function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

/** Resolves once the transaction committed; rejects when it failed or was aborted. */
export function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = tx.onabort = () => reject(tx.error ?? new DOMException('AbortError', 'AbortError'))
  })
}
