/**
 * Entity (upsert) mode on real Kafka and Redis: exactly once per entity version, whatever the
 * offsets. Every test compares the figures with the truth computed from the final rows alone
 * (`truthOfRows`), and most run the same topic through a delta-mode consumer as a control that
 * must diverge: the fault is real in every run, not only when timing allows.
 */
import { uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createDashboard,
  createMetricsConsumer,
  type MetricsConsumer,
  type Source,
  type SourceBatch,
  type SourceBatchContext,
  type SourceMessage,
  viewKeys,
} from '../../../src/index.js'
import {
  deltaView,
  entityView,
  generateVersions,
  type InvoiceVersion,
  truthOfRows,
} from '../../helpers/entity-invoices.js'
import { Child, urls, World, waitFor } from '../../helpers/harness.js'
import { asTruth, BASE_TIME, invoiceView, READ_RANGE, random, type Truth } from '../../helpers/invoices.js'

async function figures(redis: Redis, namespace: string): Promise<Truth> {
  const dashboard = createDashboard({ redis, namespace, view: entityView, cache: false })
  try {
    return asTruth((await dashboard.read(READ_RANGE)).figures)
  } finally {
    await dashboard.close()
  }
}

const record = (e: InvoiceVersion) => ({ key: e.id, value: e })

/** Both consumers (entity, and the delta-mode control in `<namespace>-delta`) caught up. */
async function caughtUp(world: World, control: boolean): Promise<void> {
  await world.waitCaughtUp()
  if (control) await world.waitCaughtUp(1, 90_000, `${world.namespace}-delta`)
}

describe('entity mode on real Kafka and Redis', () => {
  let world: World | undefined
  const children: Child[] = []
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.kill()))
    await world?.dispose()
    world = undefined
  })

  it('the same events produced again at new offsets (a relay crash): figures equal the truth, duplicates counted', async () => {
    world = await new World(4).init()
    const events = generateVersions(500, 101)
    const rnd = random(7)
    // A relay that crashed after producing and before marking its rows done produces the same
    // rows again: after every slice, a random run of already produced events is produced again.
    const log: InvoiceVersion[] = []
    let replayed = 0
    for (let i = 0; i < events.length; i += 100) {
      log.push(...events.slice(i, i + 100))
      const from = Math.floor(rnd() * log.length)
      const again = log.slice(from, from + 40)
      log.push(...again)
      replayed += again.length
    }
    const consumer = world.consumerOf(entityView, `${world.namespace}-g`)
    const control = world.consumerOf(deltaView, `${world.namespace}-delta-g`, {
      namespace: `${world.namespace}-delta`,
    })
    await Promise.all([consumer.start(), control.start()])
    // Records the entity function refuses are dead letters, like records a decoder refuses.
    const bad = [
      { key: 'bad-1', value: { ...events[0], id: '' } },
      { key: 'bad-2', value: { ...events[0], version: -1 } },
      { key: 'bad-3', value: { ...events[0], version: 1.5 } },
      { key: 'bad-4', value: { ...events[0], invoice: undefined } },
    ]
    await world.produceJson([...log.slice(0, 300).map(record), ...bad, ...log.slice(300).map(record)])
    await caughtUp(world, true)

    const truth = truthOfRows(events)
    expect(await figures(world.redis, world.namespace)).toEqual(truth)
    // Every record produced again was recognized by its version, not by its offset (new offsets).
    const stats = consumer.stats()
    expect(stats.versionDuplicates + stats.staleVersions).toBe(replayed)
    expect(
      (await world.stateCounter('dupes')) + (await world.stateCounter('stale')),
      'counted inside the apply scripts',
    ).toBe(replayed)
    expect(await world.stateCounter('applied')).toBe(events.length)
    expect(await world.stateCounter('dead')).toBe(bad.length)
    const dead = await world.readTopic(world.dlq, bad.length)
    expect(dead.map((d) => d.headers['x-error-code'])).toEqual(
      Array(bad.length).fill('E_STREAM_INVALID_ENTITY'),
    )
    // The control: offsets cannot tell a record produced twice from two events.
    const deltaFigures = await figures(world.redis, `${world.namespace}-delta`)
    expect(deltaFigures).not.toEqual(truth)
    expect(deltaFigures.invoices).toBeGreaterThan(truth.invoices)
  })

  it('v3 produced before v2 (two relays out of order) and tombstones: figures equal the latest rows', async () => {
    world = await new World(4).init()
    const events = generateVersions(400, 202)
    const rnd = random(9)
    // Per invoice, reorder its versions for a third of the invoices (reversed: the newest first).
    const byId = new Map<string, InvoiceVersion[]>()
    for (const e of events) byId.set(e.id, [...(byId.get(e.id) ?? []), e])
    const reversed = new Set([...byId.keys()].filter(() => rnd() < 0.33))
    const queues = new Map(
      [...byId].map(([id, list]) => [id, reversed.has(id) ? [...list].reverse() : [...list]]),
    )
    const log = events.map((e) => (queues.get(e.id) as InvoiceVersion[]).shift() as InvoiceVersion)
    // Then an old version of every deleted invoice is produced once more: it must not resurrect.
    const deleted = events.filter((e) => e.invoice === null)
    expect(deleted.length).toBeGreaterThan(10)
    const resurrect = deleted.map((e) => (byId.get(e.id) as InvoiceVersion[])[0] as InvoiceVersion)
    log.push(...resurrect)

    const consumer = world.consumerOf(entityView, `${world.namespace}-g`)
    const control = world.consumerOf(deltaView, `${world.namespace}-delta-g`, {
      namespace: `${world.namespace}-delta`,
    })
    await Promise.all([consumer.start(), control.start()])
    await world.produceJson(log.map(record))
    await caughtUp(world, true)

    const truth = truthOfRows(events)
    expect(await figures(world.redis, world.namespace)).toEqual(truth)
    // Each reversed invoice: its newest version came first, every older one is stale; plus the
    // resurrection attempts.
    const expectedStale =
      [...reversed].reduce((n, id) => n + (byId.get(id) as InvoiceVersion[]).length - 1, 0) + resurrect.length
    expect(consumer.stats().staleVersions).toBe(expectedStale)
    // Tombstones keep their version in the entity hash and contribute nothing.
    const stored = await world.redis.hget(
      viewKeys(world.namespace, entityView.name, 1).entities,
      (deleted[0] as InvoiceVersion).id,
    )
    expect(stored).toBe(`${(deleted[0] as InvoiceVersion).version}:`)
    expect(await figures(world.redis, `${world.namespace}-delta`)).not.toEqual(truth)
  })

  it('versions of one entity spread over several partitions (relays keying by something else): exact', async () => {
    world = await new World(4).init()
    const events = generateVersions(60, 303)
    const rnd = random(11)
    const log: InvoiceVersion[] = []
    // Many versions per invoice, keyed at random so that one invoice's versions land on every
    // partition and partitions applied in parallel touch the same entities.
    for (let round = 0; round < 4; round++) log.push(...events)
    const consumer = world.consumerOf(entityView, `${world.namespace}-g`, { chunkSize: 20 })
    await consumer.start()
    await world.produceJson(log.map((e) => ({ key: `k-${Math.floor(rnd() * 1e9)}`, value: e })))
    await world.waitCaughtUp()
    expect(await figures(world.redis, world.namespace)).toEqual(truthOfRows(events))
    const counted = ['applied', 'dupes', 'stale'].map((field) => world!.stateCounter(field))
    expect((await Promise.all(counted)).reduce((a, b) => a + b, 0)).toBe(log.length)
    console.info(
      `cross-partition entity writes: ${consumer.stats().conflicts} compare-and-set conflicts re-planned`,
    )
  })

  it('refuses to start on a generation built in delta mode (no stored contribution to retract)', async () => {
    world = await new World(2).init()
    const events = generateVersions(50, 505)
    const delta = world.consumerOf(deltaView, `${world.namespace}-d`)
    await delta.start()
    await world.produceJson(events.map(record))
    await world.waitCaughtUp()
    await delta.stop()
    const entity = world.consumerOf(entityView, `${world.namespace}-e`)
    await expect(entity.start()).rejects.toMatchObject({
      code: 'E_STREAM_INVALID_OPTION',
      message: expect.stringMatching(/built in delta mode/),
    })
  })

  it('a consumer process killed with SIGKILL mid-stream and restarted, relay duplicates included: exact', async () => {
    world = await new World(4).init()
    const events = generateVersions(1_200, 404)
    const rnd = random(13)
    const log: InvoiceVersion[] = []
    let replayed = 0
    for (let i = 0; i < events.length; i += 200) {
      log.push(...events.slice(i, i + 200))
      const from = Math.floor(rnd() * log.length)
      const again = log.slice(from, from + 60)
      log.push(...again)
      replayed += again.length
    }
    const group = `${world.namespace}-g`
    const first = new Child(world, group, 'entity')
    children.push(first)
    await world.produceJson(log.slice(0, log.length / 2).map(record))
    await waitFor('the first child to apply 800 events', () => {
      if (!first.running) throw new Error(`The consumer process exited: ${first.stderr}`)
      return (first.last?.applied ?? 0) >= 800
    })
    await first.kill()
    await world.produceJson(log.slice(log.length / 2).map(record))
    // Rewind the group so the restarted process is handed records Redis already applied.
    await waitFor('the dead member to leave the group', async () => {
      await world!.admin.resetOffsets({ groupId: group, topic: world!.topic, earliest: true })
      return true
    })
    const second = new Child(world, group, 'entity')
    children.push(second)
    await world.waitCaughtUp()
    expect(await figures(world.redis, world.namespace)).toEqual(truthOfRows(events))
    expect((await world.stateCounter('dupes')) + (await world.stateCounter('stale'))).toBe(replayed)
    expect(await world.stateCounter('applied')).toBe(events.length)
    await waitFor('the second child to report', () => second.last !== undefined)
    expect(second.last?.duplicates ?? 0).toBeGreaterThan(0)
  })
})

describe('entity mode compare-and-set on real Redis (in-memory source)', () => {
  /**
   * Partition 0's first script is held until partition 1 has applied newer and older versions of
   * the same two entities; the script planned against the old state must answer "conflict", and
   * the re-planned chunk must retract what partition 1 stored. Deterministic: no timing.
   */
  it('a script planned against versions another partition changed meanwhile is refused and re-planned', async () => {
    const namespace = uniqueName('ms')
    const redis = new Redis(urls.redis)
    let handle: ((batch: SourceBatch, context: SourceBatchContext) => Promise<void>) | undefined
    const source: Source = {
      topics: ['mem'],
      start: async (h) => {
        handle = h
      },
      isAssigned: () => true,
      send: async () => undefined,
      highWatermarks: async () => [],
      stop: async () => undefined,
    }
    const context: SourceBatchContext = {
      assignment: 1,
      isActive: () => true,
      commit: async () => undefined,
      heartbeat: async () => undefined,
      seek: () => undefined,
    }
    const row = (amountCents: number, status: 'open' | 'paid' = 'open') => ({
      status,
      amountCents,
      clientId: 'client-1',
      issuedAt: BASE_TIME,
    })
    const at = (version: number, id: string, invoice: ReturnType<typeof row> | null): InvoiceVersion => ({
      id,
      version,
      at: BASE_TIME + version,
      invoice,
      previous: null,
    })
    const batch = (partition: number, events: InvoiceVersion[]): SourceBatch => ({
      topic: 'mem',
      partition,
      messages: events.map(
        (e, offset): SourceMessage => ({
          offset: String(offset),
          key: Buffer.from(e.id),
          value: Buffer.from(JSON.stringify(e)),
          timestamp: String(Date.now()),
        }),
      ),
    })
    // Partition 0: A v1, B v5. Partition 1 (applied in between): A v2, B v3.
    const p0 = batch(0, [at(1, 'A', row(100)), at(5, 'B', row(5_000, 'paid'))])
    const p1 = batch(1, [at(2, 'A', row(200, 'paid')), at(3, 'B', row(3_000))])
    let held = false
    // The apply script of partition 0 waits until partition 1's batch was applied (the
    // interleaving two members produce when HMGET and script of two partitions cross).
    const intercepted = new Proxy(redis, {
      get(target, property, receiver) {
        if (property === 'evalsha') {
          return async (...args: unknown[]) => {
            const keys = args.slice(2, 2 + Number(args[1])) as string[]
            if (!held && keys.length >= 3 && keys[0]?.endsWith('p:mem:0')) {
              held = true
              await handle?.(p1, context)
            }
            return (target.evalsha as (...a: unknown[]) => Promise<unknown>)(...args)
          }
        }
        const value = Reflect.get(target, property, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const consumer: MetricsConsumer<InvoiceVersion> = createMetricsConsumer({
      redis: intercepted,
      namespace,
      view: entityView,
      source,
    })
    try {
      await consumer.start()
      await handle?.(p0, context)
      expect(held).toBe(true)
      const stats = consumer.stats()
      expect(stats.conflicts).toBe(1)
      // After the re-plan: A v1 is stale (A stays at v2), B v5 replaces v3.
      expect(stats.staleVersions).toBe(1)
      const figures = (
        await createDashboard({ redis, namespace, view: invoiceView, cache: false }).read(READ_RANGE)
      ).figures
      expect(figures.invoices).toBe(2)
      expect(figures.byStatus).toEqual({ paid: 2 })
      expect(figures.amountByStatus).toEqual({ paid: 5_200 })
      expect(await redis.hgetall(viewKeys(namespace, entityView.name, 1).entities)).toEqual({
        A: '2:[[0,"_",1],[1,"paid",1],[2,"paid",200],[3,"paid",200,1795132800000],[4,"client-1",200]]',
        B: '5:[[0,"_",1],[1,"paid",1],[2,"paid",5000],[3,"paid",5000,1795132800000],[4,"client-1",5000]]',
      })
    } finally {
      await consumer.stop()
      const keys = await redis.keys(`{${namespace}:*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    }
  })
})
