/**
 * Where a document's versions live: a companion Yjs document named
 * `_meridian/history/<docName>`, a normal relay document (stored, synced,
 * replicated and merged like any other). The `_meridian/` prefix is reserved;
 * this is the one form of it clients may open.
 */
export const HISTORY_DOC_PREFIX = '_meridian/history/'

/** The companion history document of `docName`. */
export function historyDocName(docName: string): string {
  return HISTORY_DOC_PREFIX + docName
}

/** The live document a history document belongs to, or null when `name` is not a history document name. */
export function liveDocNameOf(name: string): string | null {
  if (!name.startsWith(HISTORY_DOC_PREFIX)) return null
  const live = name.slice(HISTORY_DOC_PREFIX.length)
  // No history of history, and no history of the relay's own documents.
  return live.length === 0 || live.startsWith('_meridian/') ? null : live
}

export const isHistoryDocName = (name: string): boolean => liveDocNameOf(name) !== null
