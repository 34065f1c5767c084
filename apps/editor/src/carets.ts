import { Extension } from '@tiptap/core'
import { yCursorPlugin } from '@tiptap/y-tiptap'
import type { Awareness } from 'y-protocols/awareness'

/**
 * Remote cursors and selections from awareness, drawn by y-prosemirror's
 * cursor plugin (Tiptap's fork, @tiptap/y-tiptap): each peer's `user`
 * ({ name, color }) and `cursor` fields. A peer that goes away disappears
 * when the relay drops its state (socket closed) or, at the latest, after the
 * awareness timeout (30 s without a renewal).
 */
export const RemoteCarets = Extension.create<{ awareness: Awareness | null }>({
  name: 'remoteCarets',
  addOptions() {
    return { awareness: null }
  },
  addProseMirrorPlugins() {
    const awareness = this.options.awareness
    if (awareness === null) return []
    return [yCursorPlugin(awareness, { cursorBuilder: buildCaret, selectionBuilder: buildSelection })]
  }
})

interface User {
  name?: unknown
  color?: unknown
}

const safeColor = (c: unknown): string => (typeof c === 'string' && /^#[0-9a-f]{6}$/i.test(c) ? c : '#888888')
const safeName = (n: unknown): string => (typeof n === 'string' && n.length > 0 ? n.slice(0, 40) : 'anonymous')

function buildCaret(user: User, clientId: number): HTMLElement {
  const caret = document.createElement('span')
  caret.className = 'remote-caret'
  caret.style.borderColor = safeColor(user.color)
  caret.dataset.clientId = String(clientId)
  caret.dataset.name = safeName(user.name)
  const label = document.createElement('span')
  label.className = 'remote-caret-label'
  label.style.backgroundColor = safeColor(user.color)
  label.textContent = safeName(user.name)
  caret.append(label)
  return caret
}

function buildSelection(user: User): { style: string; class: string } {
  return { style: `background-color: ${safeColor(user.color)}33`, class: 'remote-selection' }
}
