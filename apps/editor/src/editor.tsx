import { useEffect, type ReactNode } from 'react'
import { EditorContent, useEditor, useEditorState, type Editor } from '@tiptap/react'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import { usePolicy, type DocumentHandle } from '@meridian/react'
import { RemoteCarets } from './carets.js'

/**
 * Tiptap on the document's `body` fragment (y-prosemirror binding through
 * Tiptap's Collaboration extension). Undo/redo come from the binding's
 * Y.UndoManager, which tracks only this client's own transactions: undo never
 * reverts a collaborator's edit. StarterKit's own history is off for that
 * reason (two undo stacks would fight). Not editable while the document is
 * read-only (home region unreachable).
 */
export function CollaborativeEditor({ handle, onEditor }: { handle: DocumentHandle; onEditor: (editor: Editor | null) => void }): ReactNode {
  const policy = usePolicy(handle)
  const writable = policy?.writable ?? true
  const editor = useEditor(
    {
      extensions: [
        StarterKit.configure({ undoRedo: false }),
        Collaboration.configure({ document: handle.doc, field: 'body' }),
        RemoteCarets.configure({ awareness: handle.provider.awareness })
      ],
      editorProps: { attributes: { class: 'prose', 'aria-label': 'document', spellcheck: 'false' } }
    },
    [handle]
  )

  useEffect(() => {
    onEditor(editor)
    return () => onEditor(null)
  }, [editor, onEditor])

  useEffect(() => {
    if (editor.isEditable !== writable) editor.setEditable(writable)
  }, [editor, writable])

  return (
    <div className="editor">
      <Toolbar editor={editor} writable={writable} />
      <EditorContent editor={editor} />
    </div>
  )
}

function Toolbar({ editor, writable }: { editor: Editor; writable: boolean }): ReactNode {
  const s = useEditorState({
    editor,
    selector: ({ editor: e }) => ({
      bold: e.isActive('bold'),
      italic: e.isActive('italic'),
      h2: e.isActive('heading', { level: 2 }),
      list: e.isActive('bulletList'),
      canUndo: e.can().undo(),
      canRedo: e.can().redo()
    })
  })
  const off = !writable
  return (
    <div className="toolbar" role="toolbar" aria-label="formatting">
      <button type="button" className={s.bold ? 'on' : ''} disabled={off} onClick={() => editor.chain().focus().toggleBold().run()}><b>B</b></button>
      <button type="button" className={s.italic ? 'on' : ''} disabled={off} onClick={() => editor.chain().focus().toggleItalic().run()}><i>I</i></button>
      <button type="button" className={s.h2 ? 'on' : ''} disabled={off} onClick={() => editor.chain().focus().toggleHeading({ level: 2 }).run()}>H2</button>
      <button type="button" className={s.list ? 'on' : ''} disabled={off} onClick={() => editor.chain().focus().toggleBulletList().run()}>• list</button>
      <span className="sep" />
      <button type="button" id="undo" disabled={off || !s.canUndo} title="Undo your own last edit (Ctrl+Z)" onClick={() => editor.chain().focus().undo().run()}>undo</button>
      <button type="button" id="redo" disabled={off || !s.canRedo} title="Redo (Ctrl+Shift+Z)" onClick={() => editor.chain().focus().redo().run()}>redo</button>
    </div>
  )
}
