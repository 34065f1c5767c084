/** The document statements of the Postgres adapter, for one schema (the other tables have their own files). */
import { NOW_MS, quoteIdent } from './schema.js'

export interface Statements {
  append: string
  appendMany: string
  load: string
  lockDocument: string
  setSnapshot: string
  deleteUpdatesThrough: string
  remove: string
  list: string
}

export function statements(schema: string): Statements {
  const S = quoteIdent(schema)
  return {
    // One statement, hence one transaction: claim the next seq by bumping the
    // document's counter (the row lock serializes appends across relays until
    // commit), then store the update under it. Resolves after COMMIT, which with
    // the server's default synchronous_commit=on means the WAL is flushed.
    append: `
      WITH claimed AS (
        INSERT INTO ${S}.documents AS d (name, next_seq, last_change_at_ms) VALUES ($1, 2, ${NOW_MS})
        ON CONFLICT (name) DO UPDATE SET next_seq = d.next_seq + 1, last_change_at_ms = ${NOW_MS}
        RETURNING d.next_seq - 1 AS seq
      )
      INSERT INTO ${S}.updates (doc, seq, data) SELECT $1, claimed.seq, $2 FROM claimed
      RETURNING seq`,
    // The same for a list ($2 bytea[], $3 its length): claims $3 consecutive seqs at once,
    // one statement and one commit for all of them.
    appendMany: `
      WITH claimed AS (
        INSERT INTO ${S}.documents AS d (name, next_seq, last_change_at_ms) VALUES ($1, $3::bigint + 1, ${NOW_MS})
        ON CONFLICT (name) DO UPDATE SET next_seq = d.next_seq + $3::bigint, last_change_at_ms = ${NOW_MS}
        RETURNING d.next_seq - $3::bigint AS first
      )
      INSERT INTO ${S}.updates (doc, seq, data)
      SELECT $1, claimed.first + u.ord - 1, u.data
        FROM claimed, unnest($2::bytea[]) WITH ORDINALITY AS u(data, ord)
      RETURNING seq`,
    // One statement reads one MVCC snapshot: a compaction is seen whole or not at
    // all. The snapshot row comes first (part 0), then the updates after it.
    load: `
      SELECT 0 AS part, d.snapshot_seq AS seq, d.snapshot AS data
        FROM ${S}.documents d WHERE d.name = $1
      UNION ALL
      SELECT 1 AS part, u.seq, u.data
        FROM ${S}.updates u JOIN ${S}.documents d ON d.name = u.doc
       WHERE u.doc = $1 AND u.seq > d.snapshot_seq
      ORDER BY part, seq`,
    lockDocument: `SELECT snapshot_seq, next_seq FROM ${S}.documents WHERE name = $1 FOR UPDATE`,
    setSnapshot: `UPDATE ${S}.documents SET snapshot = $2, snapshot_seq = $3 WHERE name = $1`,
    deleteUpdatesThrough: `DELETE FROM ${S}.updates WHERE doc = $1 AND seq <= $2`,
    // ON DELETE CASCADE takes the updates with it, in the same statement.
    remove: `DELETE FROM ${S}.documents WHERE name = $1`,
    list: `SELECT name FROM ${S}.documents`
  }
}
