/**
 * The kit as an app team would use it: a shared todo board, edited by three
 * people while the EU region is cut off. The app's own invariants are checked
 * on every replica after the partition heals: nothing acknowledged is lost,
 * every todo keeps a title, and no todo is both done and deleted.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createCluster, parseSeed, type MemoryCluster } from '@meridian/testing'

// --- the app's model (what would live in the app's code) ---
type Todo = Y.Map<unknown>
const todos = (doc: Y.Doc): Y.Map<Todo> => doc.getMap('todos')

function addTodo(doc: Y.Doc, id: string, title: string): void {
  doc.transact(() => {
    const todo = new Y.Map<unknown>()
    todo.set('title', title)
    todo.set('done', false)
    todos(doc).set(id, todo)
  })
}

function completeTodo(doc: Y.Doc, id: string): void {
  todos(doc).get(id)?.set('done', true)
}

function deleteTodo(doc: Y.Doc, id: string): void {
  todos(doc).delete(id)
}

/** What must hold on every replica. */
function checkInvariants(doc: Y.Doc): string[] {
  const problems: string[] = []
  for (const [id, todo] of todos(doc)) {
    if (typeof todo.get('title') !== 'string' || (todo.get('title') as string).length === 0) problems.push(`${id} has no title`)
    if (typeof todo.get('done') !== 'boolean') problems.push(`${id} has no done flag`)
  }
  return problems
}

// --- the test ---
let cluster: MemoryCluster | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

describe('todo board under a partition', () => {
  it('three people edit while the EU region is cut off; every replica ends equal and valid', async () => {
    cluster = await createCluster({
      seed: parseSeed(process.env.MERIDIAN_SEED),
      regions: ['eu', 'us'],
      docName: 'board',
      clients: [{ id: 'alice', region: 'eu' }, { id: 'bob', region: 'us' }, { id: 'carol', region: 'us' }]
    })
    const c = cluster
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((id) => c.client(id).doc) as [Y.Doc, Y.Doc, Y.Doc]

    addTodo(alice, 'milk', 'Buy milk')
    addTodo(bob, 'taxes', 'File taxes')
    await c.settle()

    c.partition('eu', 'us')
    // Concurrent, conflicting edits on both sides of the cut.
    completeTodo(alice, 'taxes')
    deleteTodo(bob, 'taxes')
    addTodo(carol, 'plants', 'Water plants')
    todos(alice).get('milk')?.set('title', 'Buy oat milk')
    todos(bob).get('milk')?.set('title', 'Buy milk (2 l)')
    await c.run(3_000)
    // Still apart: each side sees only its own edits.
    expect(todos(alice).has('plants')).toBe(false)

    c.heal()
    const settled = await c.settle()
    await c.expectConverged()
    await c.expectNoLostWrites({ level: 'relay' })
    for (const replica of await c.replicas('board')) expect(checkInvariants(replica.doc), replica.name).toEqual([])
    // The merge is Yjs's: the delete wins over the concurrent completion, one title wins everywhere.
    expect(todos(carol).has('taxes')).toBe(false)
    expect(todos(carol).get('plants')?.get('title')).toBe('Water plants')
    expect(['Buy oat milk', 'Buy milk (2 l)']).toContain(todos(carol).get('milk')?.get('title'))
    // What it took, in simulated time and traffic.
    expect(settled.elapsedMs).toBeLessThan(10_000)
    expect(c.report().messages).toBeGreaterThan(0)
  })
})
