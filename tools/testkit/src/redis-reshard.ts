/**
 * Hash slots moved between the masters of a running Redis Cluster, the way `redis-cli --cluster
 * reshard` does it, but with the migration window held open for as long as a test needs, so that
 * clients under load genuinely meet `ASK` (a key already moved), `TRYAGAIN` (a multi-key command
 * whose keys are split between the two nodes) and, once the move is final, `MOVED`.
 *
 * How one move works ({@link reshardSlots}):
 * 1. The owner of each slot is read from `CLUSTER NODES`; slots already on the target are left.
 * 2. `CLUSTER SETSLOT <slot> IMPORTING <source>` on the target, then `MIGRATING <target>` on the
 *    source (the order redis-cli uses: a client sent to the target by `ASK` finds it ready).
 *    From here a key missing on the source is answered `ASK`; a write of a new key lands on the
 *    target.
 * 3. `CLUSTER GETKEYSINSLOT` / `MIGRATE ... KEYS` in batches of `batchSize`, with `batchPause`
 *    between batches, until the source holds no key of the slot (it can only lose keys: a write
 *    of a key it lacks is sent to the target). No `REPLACE`: a key on both sides would be a bug
 *    of the client (`BUSYKEY` fails the move loudly).
 * 4. The window stays open at least `holdOpen` in total, then `CLUSTER SETSLOT <slot> NODE
 *    <target>` on the target, the source and every other master (the documented order), and
 *    the helper waits until every node (replicas too) names the target as the owner.
 *
 * {@link openSlotMigration} gives the same steps one at a time (open, move these keys, move the
 * rest, finish), for a test that needs an exact split: this key moved, that one not yet.
 *
 * {@link redirectionCounts} reads what the servers counted (`INFO errorstats`: the `MOVED`,
 * `ASK` and `TRYAGAIN` replies sent; `INFO commandstats`: the `ASKING` commands received, i.e. ASK
 * redirections a client followed), so a test can assert that its clients really were redirected.
 */
import { Redis } from 'ioredis'
import type { RedisCluster, RedisClusterNode } from './redis-cluster.ts'

/** Options of {@link reshardSlots}: {@link SlotMigrationOptions} and how the keys move. */
export interface ReshardOptions extends SlotMigrationOptions {
  /** Keys per `MIGRATE`. @default 10 (redis-cli's `--cluster-pipeline`) */
  batchSize?: number | undefined
  /** Pause after each `MIGRATE` batch, in milliseconds: keeps the ASK window open under load. @default 0 */
  batchPauseMs?: number | undefined
  /** Shortest time the slots stay open (IMPORTING/MIGRATING) before the move is made final, in ms. @default 0 */
  holdOpenMs?: number | undefined
}

/** What {@link reshardSlots} did. */
export interface ReshardResult {
  /** The slots that changed owner (those already on the target are left out). */
  readonly slots: readonly number[]
  /** The keys moved by `MIGRATE`. */
  readonly keysMoved: number
  /** `MIGRATE` calls made. */
  readonly batches: number
  /** How long the slots were open (from the first IMPORTING to the last SETSLOT NODE), in ms. */
  readonly openMs: number
  readonly to: RedisClusterNode
}

/** Redirections and retries as counted by the servers, summed over every node. */
export interface RedirectionCounts {
  /** `MOVED` replies sent (a client asked the wrong node for a slot). */
  readonly moved: number
  /** `ASK` replies sent (a key of a migrating slot is already on the target). */
  readonly ask: number
  /** `TRYAGAIN` replies sent (a multi-key command whose keys the migration split). */
  readonly tryAgain: number
  /** `ASKING` commands received: ASK redirections a client followed. */
  readonly asking: number
}

/** One line of `CLUSTER NODES`. */
interface NodeLine {
  readonly id: string
  readonly host: string
  readonly port: number
  readonly master: boolean
  /** Slot ranges owned, as [first, last] pairs. */
  readonly ranges: ReadonlyArray<readonly [number, number]>
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const parts = line.trim().split(' ')
      const address = (parts[1] ?? '').split('@')[0] ?? ''
      const colon = address.lastIndexOf(':')
      const ranges: Array<readonly [number, number]> = []
      for (const part of parts.slice(8)) {
        if (part.startsWith('[')) continue // an open migration, not ownership
        const [first, last] = part.split('-').map(Number)
        if (first !== undefined && Number.isInteger(first)) ranges.push([first, last ?? first])
      }
      return {
        id: parts[0] ?? '',
        host: address.slice(0, colon),
        port: Number(address.slice(colon + 1)),
        master: (parts[2] ?? '').includes('master'),
        ranges,
      }
    })
}

function owns(node: NodeLine, slot: number): boolean {
  return node.ranges.some(([first, last]) => slot >= first && slot <= last)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function admin(node: RedisClusterNode): Redis {
  const client = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 1, lazyConnect: true })
  client.on('error', () => undefined) // the command's own rejection is what a caller sees
  return client
}

async function withAdmins<T>(
  nodes: readonly RedisClusterNode[],
  run: (clients: Redis[]) => Promise<T>,
): Promise<T> {
  const clients = nodes.map(admin)
  try {
    return await run(clients)
  } finally {
    for (const client of clients) client.disconnect()
  }
}

/** The cluster as one node sees it (`CLUSTER NODES`). */
async function topology(client: Redis): Promise<NodeLine[]> {
  return parseNodes((await client.call('CLUSTER', 'NODES')) as string)
}

/** The hash slot of `key` (`CLUSTER KEYSLOT`, asked of the cluster itself). */
export async function keySlot(cluster: RedisCluster, key: string): Promise<number> {
  return withAdmins(cluster.nodes.slice(0, 1), async ([client]) =>
    Number(await (client as Redis).call('CLUSTER', 'KEYSLOT', key)),
  )
}

/** The masters of the cluster, with the master that owns `slot` now (when given) first. */
export async function clusterMasters(cluster: RedisCluster, slot?: number): Promise<RedisClusterNode[]> {
  return withAdmins(cluster.nodes.slice(0, 1), async ([client]) => {
    const masters = (await topology(client as Redis)).filter((node) => node.master && node.ranges.length > 0)
    if (slot !== undefined) masters.sort((a, b) => Number(owns(b, slot)) - Number(owns(a, slot)))
    return masters.map((node) => ({ host: node.host, port: node.port }))
  })
}

/** The master that owns `slot` now. */
export async function slotOwner(cluster: RedisCluster, slot: number): Promise<RedisClusterNode> {
  const [owner] = await clusterMasters(cluster, slot)
  if (owner === undefined) throw new Error(`slotOwner: no master owns slot ${slot}`)
  return owner
}

function sameNode(a: { host: string; port: number }, b: { host: string; port: number }): boolean {
  return a.port === b.port && (a.host === b.host || a.host === '' || b.host === '')
}

/** Options of {@link openSlotMigration}: which slots go where. */
export interface SlotMigrationOptions {
  /** The hash slots to move (0-16383); each from whichever master owns it now. */
  slots: readonly number[]
  /** The master that receives them. */
  to: RedisClusterNode
  /** When given, every slot must be owned by this master now (the move fails otherwise). */
  from?: RedisClusterNode | undefined
  /** `MIGRATE`'s own timeout, in milliseconds. @default 5000 */
  migrateTimeoutMs?: number | undefined
  /** How long {@link SlotMigration.finish} waits for every node to agree on the new owners, in ms. @default 20000 */
  settleTimeoutMs?: number | undefined
}

/**
 * Slots open for migration (IMPORTING on the target, MIGRATING on their sources): move keys one
 * by one or all, then {@link finish}. Steps 2-4 of the module note, one at a time, for a test that
 * needs a precise split (this key moved, that one not yet).
 */
export interface SlotMigration {
  /** The slots being moved (those already on the target are left out). */
  readonly slots: readonly number[]
  readonly to: RedisClusterNode
  /** `MIGRATE` these keys now (each must hash to one of the slots); returns how many were moved. */
  migrateKeys(keys: readonly string[]): Promise<number>
  /** `MIGRATE` every key left on the sources, in batches; returns the keys and batches moved. */
  migrateAll(batchSize?: number, batchPauseMs?: number): Promise<{ keysMoved: number; batches: number }>
  /** `SETSLOT NODE` everywhere and wait until every node agrees; returns how long the slots were open (ms). */
  finish(): Promise<number>
  /** Close the admin connections (after {@link finish}, or to give up: the slots then stay open). */
  close(): void
}

/** Open `slots` for migration to `to` (step 2 of the module note); see {@link SlotMigration}. */
export async function openSlotMigration(
  cluster: RedisCluster,
  options: SlotMigrationOptions,
): Promise<SlotMigration> {
  const migrateTimeout = options.migrateTimeoutMs ?? 5_000
  for (const slot of options.slots) {
    if (!Number.isInteger(slot) || slot < 0 || slot > 16_383)
      throw new Error(`reshardSlots: bad slot ${slot}`)
  }
  const clients = cluster.nodes.map(admin)
  const close = () => {
    for (const client of clients) client.disconnect()
  }
  try {
    const clientOf = (node: { port: number }): Redis => {
      const index = cluster.nodes.findIndex((n) => n.port === node.port)
      if (index < 0) throw new Error(`reshardSlots: port ${node.port} is not a node of this cluster`)
      return clients[index] as Redis
    }
    const target = clientOf(options.to)
    const lines = await topology(target)
    const targetLine = lines.find((line) => line.port === options.to.port)
    if (targetLine === undefined || !targetLine.master) {
      throw new Error(`reshardSlots: ${options.to.host}:${options.to.port} is not a master`)
    }
    const moves: Array<{ slot: number; source: NodeLine }> = []
    for (const slot of options.slots) {
      const source = lines.find((line) => line.master && owns(line, slot))
      if (source === undefined) throw new Error(`reshardSlots: no master owns slot ${slot}`)
      if (options.from !== undefined && !sameNode(source, options.from)) {
        throw new Error(
          `reshardSlots: slot ${slot} is on ${source.host}:${source.port}, not ${options.from.host}:${options.from.port}`,
        )
      }
      if (source.id !== targetLine.id) moves.push({ slot, source })
    }
    const opened = performance.now()
    for (const { slot, source } of moves) {
      await target.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', source.id)
      await clientOf(source).call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetLine.id)
    }
    /** MIGRATE `keys` (works on an open slot, where other commands would be redirected); true unless none existed. */
    const migrate = async (from: Redis, keys: readonly string[]): Promise<boolean> => {
      const reply = await from.call(
        'MIGRATE',
        options.to.host,
        String(options.to.port),
        '',
        '0',
        String(migrateTimeout),
        'KEYS',
        ...keys,
      )
      if (reply !== 'OK' && reply !== 'NOKEY')
        throw new Error(`reshardSlots: MIGRATE answered ${String(reply)}`)
      return reply === 'OK'
    }
    const sourceOf = async (key: string): Promise<Redis> => {
      const slot = Number(await target.call('CLUSTER', 'KEYSLOT', key))
      const move = moves.find((m) => m.slot === slot)
      if (move === undefined) throw new Error(`reshardSlots: ${key} is not in a slot being moved`)
      return clientOf(move.source)
    }
    return Object.freeze({
      slots: Object.freeze(moves.map((m) => m.slot)),
      to: Object.freeze({ host: options.to.host, port: options.to.port }),
      async migrateKeys(keys: readonly string[]): Promise<number> {
        let moved = 0
        for (const key of keys) {
          if (await migrate(await sourceOf(key), [key])) moved++
        }
        return moved
      },
      async migrateAll(batchSize = 10, batchPauseMs = 0) {
        let keysMoved = 0
        let batches = 0
        for (const { slot, source } of moves) {
          const from = clientOf(source)
          for (;;) {
            const keys = (await from.call(
              'CLUSTER',
              'GETKEYSINSLOT',
              String(slot),
              String(batchSize),
            )) as string[]
            if (keys.length === 0) break
            await migrate(from, keys)
            keysMoved += keys.length
            batches++
            if (batchPauseMs > 0) await sleep(batchPauseMs)
          }
        }
        return { keysMoved, batches }
      },
      async finish(): Promise<number> {
        const masters = lines.filter((line) => line.master)
        for (const { slot, source } of moves) {
          // Target first (it bumps its epoch and owns the slot), then the source, then the others.
          const order = [
            targetLine,
            source,
            ...masters.filter((m) => m.id !== targetLine.id && m.id !== source.id),
          ]
          for (const node of order)
            await clientOf(node).call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetLine.id)
        }
        const openMs = performance.now() - opened
        await waitForOwners(
          clients,
          moves.map((m) => m.slot),
          targetLine.id,
          options.settleTimeoutMs ?? 20_000,
        )
        return openMs
      },
      close,
    })
  } catch (error) {
    close()
    throw error
  }
}

/** Move `slots` to `to` under whatever load runs meanwhile (the whole module note). */
export async function reshardSlots(cluster: RedisCluster, options: ReshardOptions): Promise<ReshardResult> {
  const migration = await openSlotMigration(cluster, options)
  try {
    const opened = performance.now()
    const { keysMoved, batches } = await migration.migrateAll(
      options.batchSize ?? 10,
      options.batchPauseMs ?? 0,
    )
    const left = (options.holdOpenMs ?? 0) - (performance.now() - opened)
    if (left > 0 && migration.slots.length > 0) await sleep(left)
    const openMs = await migration.finish()
    return Object.freeze({ slots: migration.slots, keysMoved, batches, openMs, to: migration.to })
  } finally {
    migration.close()
  }
}

/** Wait until every node names `ownerId` as the owner of every slot in `slots`, with no migration left open. */
async function waitForOwners(
  clients: readonly Redis[],
  slots: readonly number[],
  ownerId: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const views = await Promise.all(
      clients.map((client) => client.call('CLUSTER', 'NODES') as Promise<string>),
    )
    const settled = views.every((text) => {
      if (text.includes('[')) return false // a migration still open on that node
      const owner = parseNodes(text).find((line) => line.id === ownerId)
      return owner !== undefined && slots.every((slot) => owns(owner, slot))
    })
    if (settled) return
    if (Date.now() > deadline)
      throw new Error(`reshardSlots: the nodes did not agree on the new owner in ${timeoutMs} ms`)
    await sleep(20)
  }
}

function count(info: string, pattern: RegExp): number {
  const match = pattern.exec(info)
  return match ? Number(match[1]) : 0
}

/** The redirections the servers counted so far, summed over every node (see the module note). */
export async function redirectionCounts(cluster: RedisCluster): Promise<RedirectionCounts> {
  return withAdmins(cluster.nodes, async (clients) => {
    const infos = await Promise.all(
      clients.map(
        async (client) => `${await client.info('errorstats')}\n${await client.info('commandstats')}`,
      ),
    )
    let moved = 0
    let ask = 0
    let tryAgain = 0
    let asking = 0
    for (const info of infos) {
      moved += count(info, /^errorstat_MOVED:count=(\d+)/m)
      ask += count(info, /^errorstat_ASK:count=(\d+)/m)
      tryAgain += count(info, /^errorstat_TRYAGAIN:count=(\d+)/m)
      asking += count(info, /^cmdstat_asking:calls=(\d+)/m)
    }
    return Object.freeze({ moved, ask, tryAgain, asking })
  })
}
