/**
 * The outbox contract, run against every driver on its real server (mariadb and mysql2 on
 * MariaDB, pg on PostgreSQL): effects exist iff the write committed, the relay delivers them for
 * as long as a sink is down, only permanent refusals are dead letters, several relays share the
 * work, and a crashed relay's batch is delivered by another.
 */
import { uniqueName } from '@ayala/testkit'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createOutbox,
  kafkaEffect,
  type Outbox,
  OutboxError,
  type OutboxRelay,
  type OutboxRelayOptions,
} from '../../../src/index.ts'
import { DRIVERS, type DriverUnderTest } from '../../helpers/databases.ts'
import { type RecordingSink, recordingSink, waitFor } from '../../helpers/recording-sink.ts'

const effect = (n: number, extra: Record<string, unknown> = {}) => ({
  sink: 'copy',
  payload: { n, ...extra },
})

describe.each(DRIVERS)('outbox contract on $name', ({ open }) => {
  let db: DriverUnderTest
  let outbox: Outbox
  let items: string
  const relays: OutboxRelay[] = []

  beforeAll(async () => {
    db = open()
  })
  afterAll(async () => {
    await db.close()
  })

  async function fresh(): Promise<void> {
    const table = uniqueName('outbox').replace(/-/g, '_')
    items = uniqueName('items').replace(/-/g, '_')
    outbox = createOutbox({ table, dialect: db.dialect })
    await outbox.ensureTable(db.pool)
    await outbox.ensureTable(db.pool) // idempotent
    await db.exec(db.createItems(items))
  }

  function relay(sink: RecordingSink, options: Partial<OutboxRelayOptions> = {}): OutboxRelay {
    const r = outbox.relay({
      db: db.pool,
      sinks: { copy: sink },
      pollInterval: 20,
      retryDelay: 20,
      maxRetryDelay: 100,
      ...options,
    })
    relays.push(r)
    return r
  }

  /** A business write and its effects in one transaction of the user's driver. */
  function write(id: number, effects: Array<{ sink: string; payload: unknown }>, fail = false) {
    return db.transaction(async (tx, exec) => {
      await exec(`INSERT INTO ${items} (id, version, name) VALUES (?, ?, ?)`, [id, 1, `item ${id}`])
      await outbox.enqueue(tx, effects)
      if (fail) throw new Error('business rule failed after the effects were recorded')
    })
  }

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()))
    await db.exec(`DROP TABLE IF EXISTS ${items}`)
    await db.exec(`DROP TABLE IF EXISTS ${outbox.tableName}`)
  })

  it('records effects with the write and nothing for a rolled-back write, delivered in order', async () => {
    await fresh()
    await write(1, [effect(1), effect(2)])
    await expect(write(2, [effect(3)], true)).rejects.toThrow(/business rule/)
    await write(3, [effect(4)])
    const sink = recordingSink()
    const passes = await relay(sink).drainAll()
    expect(sink.delivered.map((d) => d.payload)).toEqual([{ n: 1 }, { n: 2 }, { n: 4 }])
    const seqs = sink.delivered.map((d) => d.seq)
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs)
    expect(passes[0]).toMatchObject({ sink: 'copy', delivered: 3, retried: 0, deadLettered: 0 })
    expect(await outbox.lag(db.pool)).toEqual({})
    expect(await db.exec(`SELECT id FROM ${items} ORDER BY id`)).toEqual([{ id: 1 }, { id: 3 }])
  })

  it('rejects a malformed effect with a typed error before recording anything', async () => {
    await fresh()
    const attempts: unknown[] = [
      { sink: 'no spaces allowed', payload: 1 },
      { sink: 'copy', payload: undefined },
      { sink: 'copy', payload: { big: 10n } },
    ]
    for (const bad of attempts) {
      const error = await db
        .transaction(async (tx) => outbox.enqueue(tx, [effect(1), bad as never]))
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(OutboxError)
      expect((error as OutboxError).code).toBe('E_OUTBOX_INVALID_EFFECT')
    }
    expect(() => kafkaEffect({ topic: '', value: {} })).toThrow(OutboxError)
    expect(await outbox.lag(db.pool)).toEqual({})
  })

  it('keeps retrying while the sink is down (no dead letter), says so, and delivers when it returns', async () => {
    await fresh()
    const sink = recordingSink()
    sink.failWith = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })
    const r = relay(sink, { degradedAfter: '1h' })
    const errors: OutboxError[] = []
    r.on('error', (error) => errors.push(error))
    r.start()
    for (let i = 1; i <= 20; i++) await write(i, [effect(i)])
    await waitFor(() => sink.calls >= 6, 20_000, 'six failed deliveries')
    const lag = (await outbox.lag(db.pool)).copy
    expect(lag).toMatchObject({ pending: 20, dead: 0 })
    expect(lag?.retrying).toBeGreaterThan(0)
    const degraded = await r.health()
    expect(degraded.status).toBe('degraded')
    expect(degraded.reasons.join(' ')).toMatch(/delivery failing/)
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.every((e) => e.code === 'E_OUTBOX_SINK' && e.retriable)).toBe(true)

    sink.failWith = undefined
    await waitFor(() => sink.delivered.length === 20, 20_000, 'all delivered after recovery')
    await waitFor(async () => (await r.health()).status === 'up', 5_000, 'health up')
    expect(new Set(sink.delivered.map((d) => d.seq)).size).toBe(20)
    expect((await outbox.deadLetters(db.pool)).length).toBe(0)
    expect(r.stats().copy).toMatchObject({ delivered: 20, deadLettered: 0, consecutiveFailures: 0 })
  })

  it('dead-letters what the sink refuses for good, keeps the queue moving, and replays on demand', async () => {
    await fresh()
    const sink = recordingSink()
    sink.outcome = (item) =>
      (item.payload as { bad?: boolean }).bad
        ? { status: 'rejected', error: '400 mapper_parsing_exception: failed to parse field [total]' }
        : { status: 'done' }
    for (let i = 1; i <= 6; i++) await write(i, [effect(i, i % 3 === 0 ? { bad: true } : {})])
    const r = relay(sink)
    await r.drainAll()
    expect(sink.delivered.map((d) => (d.payload as { n: number }).n)).toEqual([1, 2, 4, 5])
    const dead = await outbox.deadLetters(db.pool)
    expect(dead.map((d) => (d.payload as { n: number }).n)).toEqual([3, 6])
    expect(dead[0]).toMatchObject({ sink: 'copy', attempts: 1 })
    expect(dead[0]?.lastError).toMatch(/mapper_parsing_exception/)
    expect((await r.health()).sinks.copy).toMatchObject({ status: 'degraded', dead: 2 })

    sink.outcome = () => ({ status: 'done' })
    expect(await outbox.replayDeadLetters(db.pool, { seqs: [dead[0]?.seq as number] })).toBe(1)
    await r.drainAll()
    expect((await outbox.deadLetters(db.pool)).map((d) => d.seq)).toEqual([dead[1]?.seq])
    expect(await outbox.replayDeadLetters(db.pool, { sink: 'copy' })).toBe(1)
    await r.drainAll()
    expect(sink.delivered.map((d) => (d.payload as { n: number }).n)).toEqual([1, 2, 4, 5, 3, 6])
    expect(await outbox.lag(db.pool)).toEqual({})
  })

  it('backs off a per-item retry, and makes it a dead letter only past maxAge', async () => {
    await fresh()
    const sink = recordingSink()
    sink.outcome = () => ({ status: 'retry', error: '429 es_rejected_execution_exception' })
    await write(1, [effect(1)])
    const r = relay(sink, { retryDelay: 50, maxRetryDelay: 50, maxAge: '1500ms' })
    r.start()
    await waitFor(async () => ((await outbox.lag(db.pool)).copy?.retrying ?? 0) === 1, 10_000, 'retrying')
    expect((await outbox.deadLetters(db.pool)).length).toBe(0)
    await waitFor(async () => (await outbox.deadLetters(db.pool)).length === 1, 20_000, 'expired')
    const [dead] = await outbox.deadLetters(db.pool)
    expect(dead?.lastError).toMatch(/expired after maxAge: 429/)
    expect(dead?.attempts).toBeGreaterThan(1)
  })

  it('shares the work between two relays: each effect delivered exactly once', async () => {
    await fresh()
    const a = recordingSink()
    const b = recordingSink()
    const ra = relay(a, { batchSize: 7 })
    const rb = relay(b, { batchSize: 7 })
    ra.start()
    rb.start()
    const writers = Array.from({ length: 4 }, (_, w) =>
      (async () => {
        for (let i = 0; i < 50; i++) await write(w * 1_000 + i, [effect(w * 1_000 + i)])
      })(),
    )
    await Promise.all(writers)
    await waitFor(() => a.delivered.length + b.delivered.length >= 200, 30_000, '200 deliveries')
    await ra.stop()
    await rb.stop()
    const seqs = [...a.delivered, ...b.delivered].map((d) => d.seq)
    expect(seqs.length).toBe(200)
    expect(new Set(seqs).size).toBe(200)
    expect(a.delivered.length).toBeGreaterThan(0)
    expect(b.delivered.length).toBeGreaterThan(0)
    expect(await outbox.lag(db.pool)).toEqual({})
  })

  it("delivers a crashed relay's batch once its lease expires", async () => {
    await fresh()
    for (let i = 1; i <= 3; i++) await write(i, [effect(i)])
    // What a relay that claimed the batch and died leaves behind: a lease one second long.
    const lease =
      db.dialect === 'postgres'
        ? `UPDATE ${outbox.tableName} SET claimed_by = 'crashed', claimed_until = now() + interval '1 second'`
        : `UPDATE ${outbox.tableName} SET claimed_by = 'crashed', claimed_until = DATE_ADD(NOW(3), INTERVAL 1 SECOND)`
    await db.exec(lease)
    const sink = recordingSink()
    const r = relay(sink)
    expect((await r.drainOnce())[0]?.claimed).toBe(0)
    await waitFor(async () => ((await r.drainOnce())[0]?.claimed ?? 0) === 3, 10_000, 'lease expiry')
    expect(sink.delivered.map((d) => (d.payload as { n: number }).n)).toEqual([1, 2, 3])
  })

  it('takes back the batch of its own crashed incarnation at start (stable id), not after the lease', async () => {
    await fresh()
    for (let i = 1; i <= 3; i++) await write(i, [effect(i)])
    const lease =
      db.dialect === 'postgres'
        ? `UPDATE ${outbox.tableName} SET claimed_by = 'pod-a', claimed_until = now() + interval '1 hour'`
        : `UPDATE ${outbox.tableName} SET claimed_by = 'pod-a', claimed_until = DATE_ADD(NOW(3), INTERVAL 1 HOUR)`
    await db.exec(lease)
    const other = recordingSink()
    expect((await relay(other, { id: 'pod-b' }).drainOnce())[0]?.claimed).toBe(0)
    const sink = recordingSink()
    relay(sink, { id: 'pod-a' }).start()
    await waitFor(() => sink.delivered.length === 3, 10_000, 'own batch delivered')
    expect(other.delivered).toHaveLength(0)
  })

  it('bounds a hung sink by deliveryTimeout, and a writer never waits for a delivery', async () => {
    await fresh()
    await write(1, [effect(1)])
    const sink = recordingSink()
    let release: () => void = () => undefined
    sink.gate = new Promise((resolve) => {
      release = resolve
    })
    const r = relay(sink, { deliveryTimeout: 300, claimTimeout: 5_000 })
    const hung = r.drainOnce()
    // While the delivery hangs, a writer records an effect and commits.
    await write(2, [effect(2)])
    const error = await hung.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OutboxError)
    expect((error as OutboxError).code).toBe('E_OUTBOX_TIMEOUT')
    release()
    sink.gate = undefined
    await r.drainAll()
    expect(sink.delivered.map((d) => (d.payload as { n: number }).n).sort()).toEqual([1, 2])
    expect((await outbox.deadLetters(db.pool)).length).toBe(0)
  })

  it('reports effects recorded for a sink the relay does not have as down', async () => {
    await fresh()
    await db.transaction((tx) => outbox.enqueue(tx, { sink: 'nobody', payload: {} }))
    const health = await relay(recordingSink()).health()
    expect(health.status).toBe('down')
    expect(health.sinks.nobody?.reasons.join(' ')).toMatch(/does not have/)
  })
})
