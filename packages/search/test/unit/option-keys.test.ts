/**
 * One option vocabulary (issue 15): every factory of the package refuses an unknown option key
 * with `E_SEARCH_INVALID_OPTION`, naming it (a misspelt option used to be silently ignored), and
 * checks it before doing anything else (no request, no query, no source read). The deliberately
 * open objects stay open: `clientOptions` (the official client's) and an index's `settings`.
 */
import { describe, expect, it } from 'vitest'
import {
  bulkIndex,
  createOutbox,
  createReconciler,
  createSearchClient,
  defineIndex,
  ensureIndex,
  field,
  IndexOnWrite,
  indexOnWrite,
  keysetReader,
  reconcile,
  type SearchClient,
  sqlReconcileSource,
  versionedIndex,
} from '../../src/index.js'
import { basicInvoices } from '../helpers/invoices.js'
import { refusal } from '../helpers/options.js'
import { RecordingDb } from '../helpers/recording-db.js'

/** Expect `fn` to refuse `key` by name, as an unknown option of `factory`. */
async function refusesUnknown(fn: () => unknown, factory: string, key: string): Promise<void> {
  const error = await refusal(fn)
  expect(error?.code, `${factory} refuses "${key}"`).toBe('E_SEARCH_INVALID_OPTION')
  expect(error?.message).toContain(`${factory}: unknown option "${key}"`)
}

/** A search client that must not be used: the options are refused before any call. */
const untouchable = new Proxy({} as SearchClient, {
  get(_target, property) {
    if (property === 'raw') return () => Promise.reject(new Error('the engine was called'))
    return undefined
  },
})

const source = {
  digest: async () => [],
  bounds: async () => undefined,
  versions: async () => [],
  load: async () => [],
}

describe('every factory refuses unknown option keys, by name', () => {
  it('createSearchClient, and only the unknown keys are named', async () => {
    await refusesUnknown(
      () => createSearchClient({ node: 'http://127.0.0.1:1', maxRetry: 1 } as never),
      'createSearchClient',
      'maxRetry',
    )
    const error = await refusal(() =>
      createSearchClient({ node: 'http://127.0.0.1:1', timeout: 5, retires: 2 } as never),
    )
    expect(error?.message).toContain('unknown options "timeout", "retires"')
  })

  it('createSearchClient keeps clientOptions open (the official client checks its own)', () => {
    const client = createSearchClient({
      node: 'http://127.0.0.1:1',
      clientOptions: { compression: true, name: 'unit', headers: { 'x-trace': '1' } },
    })
    expect(client.options.clientOptions).toMatchObject({ compression: true, name: 'unit' })
  })

  it('bulk, before the source is read', async () => {
    let read = 0
    const docs = (function* () {
      read++
      yield { id: 'a' }
    })()
    await refusesUnknown(
      () =>
        bulkIndex({} as never, docs, {
          index: 'x',
          idOf: (d: { id: string }) => d.id,
          batchsize: 10,
        } as never),
      'bulk',
      'batchsize',
    )
    expect(read).toBe(0)
  })

  it('keysetReader, before any query', async () => {
    const db = new RecordingDb('pool')
    const reader = keysetReader({ query: db.query.bind(db), table: 't', key: 'id', limit: 5 } as never)
    await refusesUnknown(() => reader.next(), 'keysetReader', 'limit')
    expect(db.statements).toEqual([])
  })

  it('createOutbox, outbox.worker, lag, deadLetters and replayDeadLetters, before any query', async () => {
    await refusesUnknown(() => createOutbox({ tableName: 'x' } as never), 'createOutbox', 'tableName')
    const outbox = createOutbox()
    const db = new RecordingDb('pool')
    await refusesUnknown(
      () => outbox.worker({ search: untouchable, db: {} as never, pollIntervall: 5 } as never),
      'outbox.worker',
      'pollIntervall',
    )
    await refusesUnknown(() => outbox.lag(db, { attempts: 2 } as never), 'outbox.lag', 'attempts')
    await refusesUnknown(() => outbox.deadLetters(db, { seqs: [1] } as never), 'outbox.deadLetters', 'seqs')
    await refusesUnknown(
      () => outbox.replayDeadLetters(db, { seq: [1] } as never),
      'outbox.replayDeadLetters',
      'seq',
    )
    expect(db.statements).toEqual([])
  })

  it('reconcile refuses the schedule options createReconciler takes', async () => {
    const definition = basicInvoices('unit-reconcile')
    const options = { search: untouchable, definition, source }
    await refusesUnknown(() => reconcile({ ...options, leaf: 10 } as never), 'reconcile', 'leaf')
    await refusesUnknown(() => reconcile({ ...options, interval: '1m' } as never), 'reconcile', 'interval')
    await refusesUnknown(
      () => createReconciler({ ...options, every: '1m' } as never),
      'createReconciler',
      'every',
    )
    const reconciler = createReconciler({ ...options, interval: '1m', onMissing: 'report' })
    expect(reconciler.stats().state).toBe('unknown')
  })

  it('ensureIndex and sqlReconcileSource', async () => {
    const definition = basicInvoices('unit-ensure')
    await refusesUnknown(
      () => ensureIndex(untouchable, definition, { onMissing: 'report' } as never),
      'ensureIndex',
      'onMissing',
    )
    await refusesUnknown(
      () =>
        sqlReconcileSource({
          db: new RecordingDb('pool'),
          table: 't',
          toDocument: (row: unknown) => row,
          versionColumn: 'v',
        } as never),
      'sqlReconcileSource',
      'versionColumn',
    )
  })

  it('versionedIndex and reindex, before any request', async () => {
    const definition = basicInvoices('unit-versioned')
    await refusesUnknown(
      () => versionedIndex(untouchable, definition, { retain: 2 } as never),
      'versionedIndex',
      'retain',
    )
    const versioned = versionedIndex(untouchable, definition)
    await refusesUnknown(
      () => versioned.reindex({ onPhases: () => undefined } as never),
      'reindex',
      'onPhases',
    )
  })

  it('indexOnWrite and @IndexOnWrite', async () => {
    const options = { outbox: createOutbox(), event: () => undefined, transation: () => undefined }
    await refusesUnknown(() => indexOnWrite(async () => 1, options as never), 'indexOnWrite', 'transation')
    await refusesUnknown(() => IndexOnWrite(options as never), '@IndexOnWrite', 'transation')
  })

  it('defineIndex and the field helpers; an index’s settings stay open', async () => {
    const fields = { id: field.keyword() }
    await refusesUnknown(
      () => defineIndex({ name: 'x', id: 'id', fields, mapping: {} } as never),
      'defineIndex',
      'mapping',
    )
    await refusesUnknown(() => field.text({ analyser: 'standard' } as never), 'field.text', 'analyser')
    await refusesUnknown(
      () => field.keyword({ normaliser: 'folded' } as never),
      'field.keyword',
      'normaliser',
    )
    await refusesUnknown(() => field.identifier({ prefix: 5 } as never), 'field.identifier', 'prefix')
    await refusesUnknown(() => field.money({ scale: 100 } as never), 'field.money', 'scale')
    await refusesUnknown(
      () => field.autocomplete({ kind: 'completion' } as never),
      'field.autocomplete',
      'kind',
    )
    const definition = defineIndex({ name: 'x', id: 'id', fields, settings: { refresh_interval: '5s' } })
    expect(definition.settings).toMatchObject({ refresh_interval: '5s' })
  })
})
