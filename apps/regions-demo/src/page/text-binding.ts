import * as Y from 'yjs'

/**
 * Binds a <textarea> to a Y.Text: local input becomes one Yjs transaction
 * (the changed span between the common prefix and suffix), remote changes
 * rewrite the value and keep the caret next to the same characters, so
 * typing in two regions at once works.
 */
export function bindTextarea(text: Y.Text, area: HTMLTextAreaElement, canWrite: () => boolean): () => void {
  const origin = Symbol('textarea')
  area.value = text.toString()

  const onInput = (): void => {
    const before = text.toString()
    const after = area.value
    if (!canWrite()) {
      // Read-only: put back what the document holds.
      area.value = before
      return
    }
    let start = 0
    const max = Math.min(before.length, after.length)
    while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++
    let endBefore = before.length
    let endAfter = after.length
    while (endBefore > start && endAfter > start && before.charCodeAt(endBefore - 1) === after.charCodeAt(endAfter - 1)) {
      endBefore--
      endAfter--
    }
    text.doc?.transact(() => {
      if (endBefore > start) text.delete(start, endBefore - start)
      if (endAfter > start) text.insert(start, after.slice(start, endAfter))
    }, origin)
  }

  const onChange = (event: Y.YTextEvent, transaction: Y.Transaction): void => {
    if (transaction.origin === origin) return
    // Keep the caret next to the same characters: shift it by what the remote edit inserted or deleted before it.
    const focused = document.activeElement === area
    const [a, b] = mapThroughDelta(area.selectionStart, area.selectionEnd, event.delta)
    area.value = text.toString()
    if (focused) area.setSelectionRange(a, b)
  }

  area.addEventListener('input', onInput)
  text.observe(onChange)
  return () => {
    area.removeEventListener('input', onInput)
    text.unobserve(onChange)
  }
}

/** Shifts a selection by a Y.Text delta (retain/insert/delete), as the remote edit moved the text under it. */
export function mapThroughDelta(start: number, end: number, delta: readonly { insert?: unknown; delete?: number; retain?: number }[]): [number, number] {
  const map = (pos: number): number => {
    let index = 0 // position in the old text
    let shift = 0
    for (const op of delta) {
      if (index > pos) break
      if (op.retain !== undefined) index += op.retain
      else if (op.insert !== undefined) {
        const n = typeof op.insert === 'string' ? op.insert.length : 1
        if (index <= pos) shift += n
      } else if (op.delete !== undefined) {
        const removed = Math.min(op.delete, Math.max(0, pos - index))
        shift -= removed
        index += op.delete
      }
    }
    return Math.max(0, pos + shift)
  }
  return [map(start), map(end)]
}
