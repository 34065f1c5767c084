import type { Editor } from '@tiptap/react'
import type { DocumentHandle } from '@meridian/react'
import { commentsOf } from './comments.js'

/**
 * What the page exposes as `window.__editor` for the browser tests (and for
 * poking at it from the console): the live provider and doc, the editor's
 * text, and the remote carets drawn. Tests wait on these, never on time.
 */
export interface EditorPageApi {
  readonly provider: DocumentHandle['provider']
  readonly doc: DocumentHandle['doc']
  text(): string
  carets(): string[]
  comments(): string[]
}

export function exposeForTests(handle: DocumentHandle, editor: () => Editor | null): () => void {
  const w = window as unknown as { __editor?: EditorPageApi }
  const api: EditorPageApi = {
    provider: handle.provider,
    doc: handle.doc,
    text: () => editor()?.getText() ?? '',
    carets: () => Array.from(document.querySelectorAll<HTMLElement>('.remote-caret')).map((el) => el.dataset.name ?? ''),
    comments: () => commentsOf(handle.doc).toArray().map((c) => c.text)
  }
  w.__editor = api
  return () => {
    if (w.__editor === api) delete w.__editor
  }
}
