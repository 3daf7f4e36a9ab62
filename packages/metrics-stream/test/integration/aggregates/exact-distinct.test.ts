/**
 * Figures a dashboard must keep exactly under deletions and changes, on real Kafka and Redis, in
 * entity mode: distinct clients per month (`distinct({ exact: true })`), distinct clients overall
 * and the top clients by amount, after invoices are created, moved to another client, re-dated,
 * paid and deleted (versions relayed with duplicates). Every figure equals the truth computed from
 * the final rows alone; a HyperLogLog of the same values, the control, must overcount (it cannot
 * forget the deleted and moved invoices' clients). A read with `figures` returns those figures
 * only, over its range; a name the view lacks is refused.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  createDashboard,
  day,
  defineAggregates,
  defineView,
  MetricsStreamError,
  month,
} from '../../../src/index.js'
import { World } from '../../helpers/harness.js'
import { random } from '../../helpers/invoices.js'

interface Row {
  client: string
  cents: number
  at: number
}

interface Version {
  id: string
  version: number
  row: Row | null
}

const aggregates = defineAggregates<Row>()((a) => ({
  clientsByMonth: a.distinct({ value: (r) => r.client, exact: true, bucket: month((r) => r.at) }),
  approxByMonth: a.distinct({ value: (r) => r.client, bucket: month((r) => r.at) }),
  clients: a.distinct({ value: (r) => r.client, exact: true }),
  top: a.top({ member: (r) => r.client, score: (r) => r.cents, size: 10 }),
  perDay: a.count({ bucket: day((r) => r.at) }),
}))

const view = defineView<Version, Row, typeof aggregates>({
  // The harness's name (its lag reads this view's keys).
  name: 'invoices',
  eventTime: () => Date.UTC(2026, 10, 30),
  entity: (e) => ({ key: e.id, version: e.version, row: e.row }),
  aggregates,
})

const MONTHS = [Date.UTC(2026, 8, 1), Date.UTC(2026, 9, 1), Date.UTC(2026, 10, 1)]

/** 400 invoices over 3 months and 150 clients: moved, re-dated, changed and deleted; interleaved. */
function generate(seed: number): Version[] {
  const rnd = random(seed)
  const lives: Version[][] = []
  const at = () => (MONTHS[Math.floor(rnd() * 3)] as number) + Math.floor(rnd() * 28) * 86_400_000
  for (let i = 0; i < 400; i++) {
    let row: Row = {
      client: `c${Math.floor(rnd() * 150)}`,
      cents: 100 + Math.floor(rnd() * 100_000),
      at: at(),
    }
    const life: Version[] = [{ id: `inv-${i}`, version: 1, row }]
    const step = (next: Row | null) => {
      life.push({ id: `inv-${i}`, version: life.length + 1, row: next })
      if (next) row = next
    }
    if (rnd() < 0.25) step({ ...row, client: `c${Math.floor(rnd() * 150)}` })
    if (rnd() < 0.2) step({ ...row, at: at() })
    if (rnd() < 0.3) step({ ...row, cents: 100 + Math.floor(rnd() * 100_000) })
    if (rnd() < 0.2) step(null)
    lives.push(life)
  }
  const out: Version[] = []
  const cursors = lives.map(() => 0)
  let remaining = lives.reduce((n, life) => n + life.length, 0)
  while (remaining > 0) {
    const i = Math.floor(rnd() * lives.length)
    const life = lives[i] as Version[]
    const c = cursors[i] as number
    if (c >= life.length) continue
    out.push(life[c] as Version)
    // An at-least-once relay: now and then the same version again.
    if (rnd() < 0.05) out.push(life[c] as Version)
    cursors[i] = c + 1
    remaining--
  }
  return out
}

/** The figures of the final rows. */
function truth(events: readonly Version[]) {
  const latest = new Map<string, Version>()
  for (const e of events) if ((latest.get(e.id)?.version ?? 0) < e.version) latest.set(e.id, e)
  const byMonth: Record<string, Set<string>> = {}
  const clients = new Set<string>()
  const sums = new Map<string, number>()
  for (const { row } of latest.values()) {
    if (row === null) continue
    const label = new Date(row.at).toISOString().slice(0, 7)
    byMonth[label] ??= new Set()
    byMonth[label].add(row.client)
    clients.add(row.client)
    sums.set(row.client, (sums.get(row.client) ?? 0) + row.cents)
  }
  return {
    clientsByMonth: Object.fromEntries(Object.entries(byMonth).map(([label, set]) => [label, set.size])),
    clients: clients.size,
    // ZREVRANGE order: score descending, then member descending.
    top: [...sums]
      .sort(([a, x], [b, y]) => y - x || (a < b ? 1 : -1))
      .slice(0, 10)
      .map(([member, score]) => ({ member, score })),
  }
}

describe('exact figures under deletions and changes, on real Kafka and Redis', () => {
  let world: World | undefined
  afterEach(async () => {
    await world?.dispose()
    world = undefined
  })

  it('distinct clients per month and overall, and the top clients, equal the final rows; a HyperLogLog overcounts', async () => {
    world = await new World(3).init()
    const events = generate(2026)
    await world.produceJson(events.map((e) => ({ key: e.id, value: e })))
    const consumer = world.consumerOf(view, `${world.namespace}-g`)
    await consumer.start()
    await world.waitCaughtUp()
    const dashboard = createDashboard({ redis: world.redis, namespace: world.namespace, view, cache: false })
    try {
      const read = await dashboard.read({
        from: MONTHS[0],
        to: Date.UTC(2026, 10, 30),
        figures: ['clientsByMonth', 'approxByMonth', 'clients', 'top'],
      })
      const expected = truth(events)
      expect(Object.keys(read.figures).sort()).toEqual(['approxByMonth', 'clients', 'clientsByMonth', 'top'])
      expect(read.figures.clientsByMonth).toEqual(expected.clientsByMonth)
      expect(read.figures.clients).toBe(expected.clients)
      expect(read.figures.top).toEqual(expected.top)
      // The control: the HyperLogLog still counts the clients of deleted and moved invoices.
      const approx = Object.values(read.figures.approxByMonth).reduce((sum, n) => sum + n, 0)
      const exact = Object.values(expected.clientsByMonth).reduce((sum, n) => sum + n, 0)
      expect(approx).toBeGreaterThan(exact)
      console.log(
        `[exact] ${events.length} versions of 400 invoices: distinct clients per month ${JSON.stringify(expected.clientsByMonth)} exact, HyperLogLog ${JSON.stringify(read.figures.approxByMonth)}`,
      )
      const all = await dashboard.read()
      expect(Object.keys(all.figures)).toContain('perDay')
      await expect(dashboard.read({ figures: ['nope' as 'top'] })).rejects.toThrow(MetricsStreamError)
      await expect(dashboard.read({ figures: ['nope' as 'top'] })).rejects.toMatchObject({
        code: 'E_STREAM_INVALID_READ',
      })
    } finally {
      await dashboard.close()
    }
  }, 120_000)
})
