import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgresStorage, type PostgresStorageAdapter } from './index.js'
import { checkPostgres, dropSchema, freshSchemaName, requireServices } from '../../../test/helpers/services.js'

const services = await requireServices('@meridian/storage-postgres change feed', { postgres: checkPostgres() })
const url = services?.postgres

describe.skipIf(url === undefined)('PostgreSQL change log across relays', () => {
  const adapters: PostgresStorageAdapter[] = []
  const schemas: string[] = []
  afterEach(async () => {
    for (const a of adapters.splice(0)) await a.close()
    for (const s of schemas.splice(0)) await dropSchema(url as string, s)
  })

  it('never hands out an entry behind a cursor: a later commit waits for an earlier transaction still open', async () => {
    const schema = freshSchemaName()
    schemas.push(schema)
    const a = await openPostgresStorage({ connectionString: url as string, schema, poolSize: 2 })
    const b = await openPostgresStorage({ connectionString: url as string, schema, poolSize: 2 })
    adapters.push(a, b)
    expect(await a.readChangeLog(null, 0)).toEqual([])
    await a.append('x', new Uint8Array([1]))
    // A relay's append still in flight: its transaction started (and took its id) first.
    const slow = new pg.Client({ connectionString: url })
    await slow.connect()
    try {
      await slow.query('BEGIN')
      await slow.query(`INSERT INTO "${schema}".documents (name, next_seq) VALUES ('slow', 2)`)
      await slow.query(`INSERT INTO "${schema}".updates (doc, seq, data) VALUES ('slow', 1, '\\x07')`)
      await b.append('fast', new Uint8Array([2]))
      const before = await a.readChangeLog(null, 100)
      expect(before.map((e) => e.doc)).toEqual(['x'])
      await slow.query('COMMIT')
    } finally {
      await slow.end()
    }
    const after = await a.readChangeLog(null, 100)
    expect(after.map((e) => e.doc)).toEqual(['x', 'slow', 'fast'])
    // Resuming from the first cursor gives exactly the rest.
    expect((await b.readChangeLog(after[0]?.cursor ?? null, 100)).map((e) => e.doc)).toEqual(['slow', 'fast'])
  })
})
