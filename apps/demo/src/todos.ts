import * as Y from 'yjs'

/**
 * The collaborative document: a todo list, `Y.Array<Y.Map>` named "todos";
 * each item is a map { id, text, done }. Plain DOM, re-rendered on change.
 */
export interface Todo {
  id: string
  text: string
  done: boolean
}

export function todoList(doc: Y.Doc): Y.Array<Y.Map<unknown>> {
  return doc.getArray<Y.Map<unknown>>('todos')
}

export function readTodos(doc: Y.Doc): Todo[] {
  return todoList(doc)
    .toArray()
    .map((item) => ({
      id: String(item.get('id') ?? ''),
      text: String(item.get('text') ?? ''),
      done: item.get('done') === true
    }))
}

export function addTodo(doc: Y.Doc, text: string): void {
  const item = new Y.Map<unknown>()
  doc.transact(() => {
    item.set('id', `${doc.clientID.toString(36)}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`)
    item.set('text', text)
    item.set('done', false)
    todoList(doc).push([item])
  })
}

function indexOf(doc: Y.Doc, id: string): number {
  return todoList(doc)
    .toArray()
    .findIndex((item) => item.get('id') === id)
}

export function toggleTodo(doc: Y.Doc, id: string): void {
  const item = todoList(doc).get(indexOf(doc, id))
  if (item !== undefined) item.set('done', item.get('done') !== true)
}

export function removeTodo(doc: Y.Doc, id: string): void {
  const at = indexOf(doc, id)
  if (at >= 0) todoList(doc).delete(at, 1)
}

/** Binds the list to the DOM; returns the unbind function. */
export function bindTodos(doc: Y.Doc, elements: { list: HTMLUListElement; form: HTMLFormElement; input: HTMLInputElement }): () => void {
  const { list, form, input } = elements
  let scheduled = false
  const render = (): void => {
    scheduled = false
    const items = readTodos(doc)
    list.replaceChildren(
      ...items.map((todo) => {
        const li = document.createElement('li')
        li.dataset.id = todo.id
        li.className = todo.done ? 'done' : ''
        const box = document.createElement('input')
        box.type = 'checkbox'
        box.checked = todo.done
        box.setAttribute('aria-label', `done: ${todo.text}`)
        box.addEventListener('change', () => toggleTodo(doc, todo.id))
        const text = document.createElement('span')
        text.className = 'text'
        text.textContent = todo.text
        const remove = document.createElement('button')
        remove.type = 'button'
        remove.className = 'remove'
        remove.textContent = '×'
        remove.title = 'delete'
        remove.addEventListener('click', () => removeTodo(doc, todo.id))
        li.append(box, text, remove)
        return li
      })
    )
    if (items.length === 0) {
      const empty = document.createElement('li')
      empty.className = 'empty muted'
      empty.textContent = 'Nothing yet.'
      list.append(empty)
    }
  }
  const schedule = (): void => {
    if (scheduled) return
    scheduled = true
    queueMicrotask(render)
  }
  const onSubmit = (event: SubmitEvent): void => {
    event.preventDefault()
    const text = input.value.trim()
    if (text.length === 0) return
    addTodo(doc, text)
    input.value = ''
  }
  form.addEventListener('submit', onSubmit)
  todoList(doc).observeDeep(schedule)
  render()
  return () => {
    form.removeEventListener('submit', onSubmit)
    todoList(doc).unobserveDeep(schedule)
  }
}
