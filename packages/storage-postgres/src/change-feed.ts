import type { Pool, PoolClient } from 'pg'
import { StorageError, type ChangeLogEntry, type ChangesPage, type StoredUpdate } from '@meridian/storage'
import { quoteIdent } from './schema.js'

/**
 * The change feed (@meridian/storage change-feed.ts) on PostgreSQL. Its tables
 * are created on first use rather than by a schema migration (an optional
 * feature, like mesh_members); the relay touches it when it starts. The log is
 * filled by triggers on `updates` and `documents`, so it is written in the
 * transaction of every append, compaction and removal, by every relay sharing
 * the database, whichever adapter created it. Created together with the log
 * (under a lock that waits for appends in flight), it is seeded with each
 * document's head, so documents stored before show up once.
 *
 * Cursor: `<txid>:<pos>`. Several relays append at once, so `pos` (a sequence)
 * is not commit order: pos 11 may commit before pos 10. Entries are ordered by
 * the writing transaction's id, and a read only returns entries of
 * transactions older than the oldest one still running
 * (`pg_snapshot_xmin(pg_current_snapshot())`): those are all finished, so no
 * entry can later appear before a cursor already handed out. A long-running
 * transaction holds the feed back (never loses an entry).
 */
export class PgChangeFeed {
  readonly #S: string
  readonly #schema: string
  #ready: Promise<void> | null = null

  constructor(schema: string) {
    this.#schema = schema
    this.#S = quoteIdent(schema)
  }

  /** Creates the tables and triggers once (every relay may race to: an advisory lock orders them). */
  ensure(pool: Pool, transaction: <T>(fn: (client: PoolClient) => Promise<T>) => Promise<T>): Promise<void> {
    this.#ready ??= transaction(async (client) => {
      const S = this.#S
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`meridian:change-feed:${this.#schema}`])
      const { rows } = await client.query<{ exists: string | null }>('SELECT to_regclass($1)::text AS exists', [`${S}.change_log`])
      if (rows[0]?.exists === null || rows[0]?.exists === undefined) {
        // Appends in flight finish first; later ones wait for the trigger, so the seed misses none.
        await client.query(`LOCK TABLE ${S}.updates, ${S}.documents IN SHARE ROW EXCLUSIVE MODE`)
        await client.query(`
          CREATE TABLE ${S}.change_log (
            txid xid8      NOT NULL DEFAULT pg_current_xact_id(),
            pos  bigserial NOT NULL,
            doc  text      NOT NULL,
            seq  bigint    NOT NULL,
            PRIMARY KEY (txid, pos));
          CREATE INDEX ON ${S}.change_log (doc, seq);
          CREATE FUNCTION ${S}.meridian_log_append() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN INSERT INTO ${S}.change_log (doc, seq) VALUES (NEW.doc, NEW.seq); RETURN NULL; END $body$;
          CREATE TRIGGER meridian_log_append AFTER INSERT ON ${S}.updates FOR EACH ROW EXECUTE FUNCTION ${S}.meridian_log_append();
          CREATE FUNCTION ${S}.meridian_log_compact() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN DELETE FROM ${S}.change_log WHERE doc = NEW.name AND seq < NEW.snapshot_seq; RETURN NULL; END $body$;
          CREATE TRIGGER meridian_log_compact AFTER UPDATE OF snapshot_seq ON ${S}.documents FOR EACH ROW
            WHEN (NEW.snapshot_seq > OLD.snapshot_seq) EXECUTE FUNCTION ${S}.meridian_log_compact();
          CREATE FUNCTION ${S}.meridian_log_remove() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN DELETE FROM ${S}.change_log WHERE doc = OLD.name; RETURN NULL; END $body$;
          CREATE TRIGGER meridian_log_remove AFTER DELETE ON ${S}.documents FOR EACH ROW EXECUTE FUNCTION ${S}.meridian_log_remove();
          INSERT INTO ${S}.change_log (doc, seq) SELECT name, next_seq - 1 FROM ${S}.documents WHERE next_seq > 1 ORDER BY name;`)
      }
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${S}.cursors (consumer text NOT NULL, key text NOT NULL, value text NOT NULL, PRIMARY KEY (consumer, key));
        CREATE TABLE IF NOT EXISTS ${S}.leases (name text NOT NULL PRIMARY KEY, holder text NOT NULL, until timestamptz NOT NULL);`)
    }).catch((err: unknown) => {
      this.#ready = null
      throw err
    })
    return this.#ready
  }

  /** One statement, one MVCC snapshot: a compaction is seen whole or not at all. */
  async readChanges(pool: Pool, docName: string, afterSeq: number, limit: number): Promise<ChangesPage | null> {
    const S = this.#S
    const { rows } = await pool.query<{ part: number; seq: string; head: string; data: Uint8Array | null }>({
      name: `meridian-read-changes:${this.#schema}`,
      text: `
        SELECT 0 AS part, d.snapshot_seq AS seq, d.next_seq - 1 AS head, CASE WHEN d.snapshot_seq > $2 THEN d.snapshot END AS data
          FROM ${S}.documents d WHERE d.name = $1
        UNION ALL
        (SELECT 1 AS part, u.seq, 0 AS head, u.data
           FROM ${S}.updates u JOIN ${S}.documents d ON d.name = u.doc
          WHERE u.doc = $1 AND u.seq > greatest($2::bigint, d.snapshot_seq)
          ORDER BY u.seq LIMIT $3)
        ORDER BY part, seq`,
      values: [docName, afterSeq, limit]
    })
    const head = rows[0]
    if (head === undefined || head.part !== 0) return null
    const updates: StoredUpdate[] = rows.slice(1).map((r) => ({ seq: Number(r.seq), data: new Uint8Array(r.data ?? new Uint8Array(0)) }))
    return {
      snapshot: head.data === null ? null : { seq: Number(head.seq), data: new Uint8Array(head.data) },
      updates,
      headSeq: Number(head.head)
    }
  }

  async readLog(pool: Pool, after: string | null, limit: number): Promise<ChangeLogEntry[]> {
    const [txid, pos] = parseCursor(after)
    const S = this.#S
    const { rows } = await pool.query<{ txid: string; pos: string; doc: string; seq: string; data: Uint8Array | null }>({
      name: `meridian-read-log:${this.#schema}`,
      text: `
        SELECT l.txid::text AS txid, l.pos, l.doc, l.seq, u.data
          FROM ${S}.change_log l LEFT JOIN ${S}.updates u ON u.doc = l.doc AND u.seq = l.seq
         WHERE (l.txid, l.pos) > ($1::xid8, $2::bigint) AND l.txid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY l.txid, l.pos LIMIT $3`,
      values: [txid, pos, limit]
    })
    return rows.map((r) => ({ cursor: `${r.txid}:${r.pos}`, doc: r.doc, seq: Number(r.seq), data: r.data === null ? null : new Uint8Array(r.data) }))
  }

  async loadCursors(pool: Pool, consumer: string): Promise<Record<string, string>> {
    const { rows } = await pool.query<{ key: string; value: string }>(`SELECT key, value FROM ${this.#S}.cursors WHERE consumer = $1`, [consumer])
    return Object.fromEntries(rows.map((r) => [r.key, r.value]))
  }

  async saveCursors(client: PoolClient, consumer: string, values: Readonly<Record<string, string | null>>): Promise<void> {
    for (const [key, value] of Object.entries(values)) {
      if (value === null) await client.query(`DELETE FROM ${this.#S}.cursors WHERE consumer = $1 AND key = $2`, [consumer, key])
      else {
        await client.query(`INSERT INTO ${this.#S}.cursors (consumer, key, value) VALUES ($1, $2, $3)
          ON CONFLICT (consumer, key) DO UPDATE SET value = EXCLUDED.value`, [consumer, key, value])
      }
    }
  }

  /** The database's clock decides expiry: the same for every relay, whatever their own clocks say. */
  async acquireLease(pool: Pool, name: string, holder: string, ttlMs: number): Promise<boolean> {
    const S = this.#S
    const { rows } = await pool.query(
      `INSERT INTO ${S}.leases AS l (name, holder, until) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
       WHERE l.holder = EXCLUDED.holder OR l.until <= clock_timestamp()
       RETURNING holder`,
      [name, holder, ttlMs]
    )
    return rows.length === 1
  }

  async releaseLease(pool: Pool, name: string, holder: string): Promise<void> {
    await pool.query(`DELETE FROM ${this.#S}.leases WHERE name = $1 AND holder = $2`, [name, holder])
  }
}

function parseCursor(after: string | null): [string, string] {
  if (after === null) return ['0', '0']
  const match = /^(\d{1,20}):(\d{1,19})$/.exec(after)
  if (match === null) throw new StorageError('ERR_STORAGE_INVALID_ARGUMENT', `invalid change-log cursor ${JSON.stringify(after.slice(0, 40))}`)
  return [match[1] as string, match[2] as string]
}
