/**
 * Zero-downtime reindex over versioned physical indices.
 *
 * Layout: physical indices `<name>-v<N>`; the read alias `<name>` and the write alias
 * `<name>-write` (with `is_write_index`) point at the live version. Applications read through the
 * read alias and write through the write alias (the outbox's events should name the write alias).
 *
 * `reindex()`:
 * 1. creates `<name>-v<N+1>` from the (possibly changed) definition;
 * 2. moves the write alias to it (one `_aliases` call), so every new write lands in the new version;
 * 3. backfills: copies the old version into the new one through a point in time, with `create`
 *    (or, with `versioning: 'external'`, the old `_version` and `version_type: external`), so a
 *    document written meanwhile is never overwritten by its older copy; alternatively backfills
 *    from your own source (e.g. `keysetReader` over the database);
 * 4. catches up: refreshes the old version and copies it again the same way, which picks up writes
 *    that had resolved the write alias before step 2 but landed after the first copy began;
 * 5. swaps the read alias in one `_aliases` call (remove old + add new: atomic for readers);
 * 6. deletes versions beyond the `keep` most recent old ones.
 *
 * On failure in steps 2-5 it rolls back: copies what the new version received into the old one
 * (writes still land in the new version meanwhile), points both aliases back at the old version
 * in one `_aliases` call, then reconciles the writes that reached the new version during that
 * copy, deletes the new version and throws `E_SEARCH_REINDEX_FAILED`.
 *
 * Reconciling without external versions uses sequence numbers. Before the copy, each shard's
 * `max_seq_no` of the new version is recorded: a document above it was written after the copy's
 * snapshot. After the copy, each shard's `max_seq_no` of the old version is recorded: no writer
 * writes there until the alias switch, so a document above it was written by a writer after the
 * switch and is newer than anything in the new version. Each late document of the new version is
 * then written into the old one only if the old copy is at or below that mark, guarded by
 * `if_seq_no`/`if_primary_term` (or `create` when absent), so a writer landing in between wins
 * (409, skipped). Externally versioned writers (the outbox) are reconciled by their versions.
 * Deletes racing the backfill still need external versions (a delete's tombstone then beats the
 * older copy).
 */
import type { estypes } from '@elastic/elasticsearch'
import type { BulkReport } from '../bulk/bulk-indexer.js'
import { engineError } from '../engine/engine-error.js'
import type { SearchClient } from '../engine/search-client.js'
import { SearchError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'
import type { DocOf } from '../query/types.js'
import type { IndexDefinition } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'

/** Options of {@link versionedIndex}. */
export interface VersionedIndexOptions {
  /** Old versions kept after a successful reindex (for a manual rollback). @default 1 */
  keep?: number | undefined
  /** How writers version documents: `external` (outbox) or the engine's own. @default 'internal' */
  versioning?: 'internal' | 'external' | undefined
}

/** Defaults of {@link VersionedIndexOptions}. */
export const DEFAULT_VERSIONED_INDEX_OPTIONS = Object.freeze({
  keep: 1,
  versioning: 'internal' as 'internal' | 'external',
})

/** Result of {@link VersionedIndex.reindex}. */
export interface ReindexReport {
  /** Version read before. */
  from: number
  /** Version read now. */
  to: number
  /** Documents copied by the backfill (first pass). */
  backfilled: number
  /** Documents added by the catch-up pass. */
  caughtUp: number
  /** Physical indices deleted by retention. */
  deleted: string[]
  /** Duration in ms. */
  durationMs: number
}

/**
 * Phases of a reindex, in order. On failure after `writes-moved` the rollback reports
 * `rollback-copied` (the new version's documents copied back; writes still land in the new
 * version) and `rollback-switched` (both aliases on the old version, late writes not yet
 * reconciled).
 */
export type ReindexPhase =
  | 'created'
  | 'writes-moved'
  | 'backfilled'
  | 'caught-up'
  | 'swapped'
  | 'rollback-copied'
  | 'rollback-switched'

/** Options of one reindex. */
export interface ReindexOptions<F extends FieldMap> {
  /** New declaration (new mappings/analysis); the same one re-creates the index as is. */
  definition?: IndexDefinition<F> | undefined
  /** Backfill from this source instead of the live version (e.g. the database). */
  source?: (() => AsyncIterable<DocOf<F>>) | undefined
  /** Called (and awaited) after each phase. */
  onPhase?: ((phase: ReindexPhase) => void | Promise<void>) | undefined
  /** Failure injection point for tests and dry runs: called before the read swap; a throw rolls back. */
  beforeSwap?: (() => Promise<void> | void) | undefined
}

const VERSION = /-v(\d+)$/
const KNOWN_VERSIONED_OPTIONS: ReadonlySet<string> = new Set(['keep', 'versioning'])
const KNOWN_REINDEX_OPTIONS: ReadonlySet<string> = new Set(['definition', 'source', 'onPhase', 'beforeSwap'])

/** A definition managed as versioned physical indices behind aliases. */
export class VersionedIndex<F extends FieldMap> {
  /** Read alias (the definition's name). */
  readonly readAlias: string
  /** Write alias. */
  readonly writeAlias: string
  readonly #search: SearchClient
  readonly #definition: IndexDefinition<F>
  readonly #keep: number
  readonly #external: boolean

  constructor(search: SearchClient, definition: IndexDefinition<F>, options: VersionedIndexOptions = {}) {
    checkOptionKeys(options, KNOWN_VERSIONED_OPTIONS, 'versionedIndex')
    const keep = options.keep ?? DEFAULT_VERSIONED_INDEX_OPTIONS.keep
    if (!Number.isInteger(keep) || keep < 0)
      throw new SearchError('E_SEARCH_INVALID_OPTION', 'keep must be an integer >= 0')
    const versioning = options.versioning ?? DEFAULT_VERSIONED_INDEX_OPTIONS.versioning
    if (versioning !== 'internal' && versioning !== 'external')
      throw new SearchError('E_SEARCH_INVALID_OPTION', `versioning must be 'internal' or 'external'`)
    this.#search = search
    this.#definition = definition
    this.#keep = keep
    this.#external = versioning === 'external'
    this.readAlias = definition.name
    this.writeAlias = `${definition.name}-write`
  }

  /** Physical name of version `n`. */
  physical(version: number): string {
    return `${this.readAlias}-v${version}`
  }

  /** Existing physical versions, ascending. */
  async versions(): Promise<number[]> {
    const client = await this.#search.raw()
    const found = await client.indices.get({
      index: `${this.readAlias}-v*`,
      allow_no_indices: true,
      expand_wildcards: 'open',
    })
    return Object.keys(found)
      .map((name) => Number(VERSION.exec(name)?.[1]))
      .filter((n) => Number.isInteger(n) && this.physical(n) in found)
      .sort((a, b) => a - b)
  }

  /** The version the read alias points at, or undefined before {@link init}. */
  async current(): Promise<number | undefined> {
    const client = await this.#search.raw()
    const aliases = await client.indices.getAlias({ name: this.readAlias }, { ignore: [404] })
    const names = Object.keys(aliases).filter((name) => VERSION.test(name))
    const versions = names.map((name) => Number(VERSION.exec(name)?.[1]))
    return versions.length === 0 ? undefined : Math.max(...versions)
  }

  /** Create version 1 behind both aliases unless the read alias exists. @returns the live version */
  async init(): Promise<number> {
    const existing = await this.current()
    if (existing !== undefined) return existing
    await this.#search.createIndex(this.#definition, {
      name: this.physical(1),
      aliases: { [this.readAlias]: {}, [this.writeAlias]: { is_write_index: true } },
    })
    return 1
  }

  async #aliases(actions: estypes.IndicesUpdateAliasesAction[]): Promise<void> {
    const client = await this.#search.raw()
    try {
      await client.indices.updateAliases({ actions })
    } catch (error) {
      throw engineError(error, this.readAlias)
    }
  }

  /** Copy every document of `from` into `to` through a PIT; `mode` decides who wins a conflict. */
  async #copy(from: string, to: string, mode: 'create' | 'index'): Promise<BulkReport> {
    const search = this.#search
    const external = this.#external
    const definition = this.#definition
    const client = await search.raw()
    await client.indices.refresh({ index: from })
    const pit = await search.openPit(from, '5m')
    const versions = new Map<string, number>()
    async function* documents(): AsyncGenerator<DocOf<F>> {
      let after: estypes.SortResults | undefined
      for (;;) {
        const response = await client.search<DocOf<F>>({
          pit: { id: pit, keep_alive: '5m' },
          size: 1_000,
          version: external,
          sort: [{ [definition.id]: { order: 'asc' } }],
          ...(after ? { search_after: after } : {}),
        })
        const hits = response.hits.hits
        for (const hit of hits) {
          if (external && hit._version !== undefined) versions.set(hit._id as string, hit._version)
          yield hit._source as DocOf<F>
        }
        if (hits.length < 1_000) return
        after = hits.at(-1)?.sort
      }
    }
    try {
      return await search.bulk(definition, documents(), {
        index: to,
        action: external ? 'index' : mode,
        ...(external ? { versionOf: (doc: DocOf<F>) => versions.get(definition.idOf(doc)) ?? 1 } : {}),
        throwOnFailure: true,
      })
    } finally {
      await search.closePit(pit)
    }
  }

  /** Build a new version, backfill, catch up, swap aliases atomically; roll back on failure. */
  async reindex(options: ReindexOptions<F> = {}): Promise<ReindexReport> {
    checkOptionKeys(options, KNOWN_REINDEX_OPTIONS, 'reindex')
    const started = performance.now()
    const from = await this.init()
    const known = await this.versions()
    const to = Math.max(from, ...known) + 1
    const oldIndex = this.physical(from)
    const newIndex = this.physical(to)
    const definition = options.definition ?? this.#definition
    await this.#search.createIndex(definition, { name: newIndex })
    await options.onPhase?.('created')
    let writesMoved = false
    try {
      await this.#aliases([
        { remove: { index: oldIndex, alias: this.writeAlias } },
        { add: { index: newIndex, alias: this.writeAlias, is_write_index: true } },
      ])
      writesMoved = true
      await options.onPhase?.('writes-moved')
      let backfilled: number
      if (options.source) {
        const report = await this.#search.bulk(this.#definition, options.source(), {
          index: newIndex,
          action: 'create',
          throwOnFailure: true,
        })
        backfilled = report.indexed
      } else {
        backfilled = (await this.#copy(oldIndex, newIndex, 'create')).indexed
      }
      await options.onPhase?.('backfilled')
      const caughtUp = (await this.#copy(oldIndex, newIndex, 'create')).indexed
      await options.onPhase?.('caught-up')
      await options.beforeSwap?.()
      await this.#search.refresh(newIndex)
      await this.#aliases([
        { remove: { index: oldIndex, alias: this.readAlias } },
        { add: { index: newIndex, alias: this.readAlias } },
      ])
      await options.onPhase?.('swapped')
      const deleted = await this.#retain(to)
      return { from, to, backfilled, caughtUp, deleted, durationMs: performance.now() - started }
    } catch (error) {
      await this.#rollback(oldIndex, newIndex, writesMoved, error, options.onPhase)
      throw new SearchError(
        'E_SEARCH_REINDEX_FAILED',
        `Reindex of "${this.readAlias}" to v${to} failed and was rolled back to v${from}: ${error instanceof Error ? error.message : String(error)}`,
        { index: this.readAlias, cause: error },
      )
    }
  }

  async #rollback(
    oldIndex: string,
    newIndex: string,
    writesMoved: boolean,
    cause: unknown,
    onPhase: ReindexOptions<F>['onPhase'],
  ): Promise<void> {
    try {
      if (writesMoved) {
        // Marks before the copy: a document of the new version above them arrived during it.
        const lateAfter = await this.#seqNoMarks(newIndex)
        // What the new version received (writes since step 2) goes back to the old one.
        await this.#copy(newIndex, oldIndex, 'index')
        // The old version receives no writer's write until the switch below.
        const writerAfter = await this.#seqNoMarks(oldIndex)
        await onPhase?.('rollback-copied')
        await this.#aliases([
          { remove: { index: newIndex, alias: this.writeAlias } },
          { add: { index: oldIndex, alias: this.writeAlias, is_write_index: true } },
          { add: { index: oldIndex, alias: this.readAlias } },
        ])
        await onPhase?.('rollback-switched')
        if (this.#external) await this.#copy(newIndex, oldIndex, 'index')
        else await this.#reconcile(newIndex, oldIndex, lateAfter, writerAfter)
      }
      await this.#search.deleteIndex(newIndex)
    } catch (rollbackError) {
      throw new SearchError(
        'E_SEARCH_REINDEX_FAILED',
        `Reindex of "${this.readAlias}" failed and its rollback failed too; check aliases ${this.readAlias} and ${this.writeAlias}`,
        { index: this.readAlias, cause: new AggregateError([cause, rollbackError]) },
      )
    }
  }

  /** `max_seq_no` of each primary shard of `index`. */
  async #seqNoMarks(index: string): Promise<Map<string, number>> {
    const client = await this.#search.raw()
    const stats = (await client.indices.stats({ index, level: 'shards', metric: 'docs' })) as unknown as {
      indices?: Record<
        string,
        {
          shards?: Record<
            string,
            Array<{ routing?: { primary?: boolean }; seq_no?: { max_seq_no?: number } }>
          >
        }
      >
    }
    const marks = new Map<string, number>()
    for (const [shard, copies] of Object.entries(stats.indices?.[index]?.shards ?? {})) {
      const primary = copies.find((copy) => copy.routing?.primary)
      marks.set(shard, primary?.seq_no?.max_seq_no ?? -1)
    }
    return marks
  }

  /**
   * After the rollback switch (internal versioning): write into `oldIndex` every document of
   * `newIndex` above `lateAfter` (written during the rollback copy), unless the old copy is above
   * `writerAfter` (a writer updated it since the switch). Guarded by `if_seq_no`/`if_primary_term`
   * or `create`, so a write landing in between wins.
   */
  async #reconcile(
    newIndex: string,
    oldIndex: string,
    lateAfter: Map<string, number>,
    writerAfter: Map<string, number>,
  ): Promise<void> {
    const client = await this.#search.raw()
    await client.indices.refresh({ index: [newIndex, oldIndex] })
    const idField = this.#definition.id
    for (const [shard, mark] of lateAfter) {
      let after: estypes.SortResults | undefined
      for (;;) {
        const response = await client.search<Record<string, unknown>>({
          index: newIndex,
          preference: `_shards:${shard}`,
          size: 500,
          query: { range: { _seq_no: { gt: mark } } },
          sort: [{ [idField]: { order: 'asc' } }],
          ...(after ? { search_after: after } : {}),
        })
        const hits = response.hits.hits
        if (hits.length > 0) await this.#reconcileBatch(oldIndex, hits, writerAfter)
        if (hits.length < 500) break
        after = hits.at(-1)?.sort
      }
    }
  }

  async #reconcileBatch(
    oldIndex: string,
    hits: Array<estypes.SearchHit<Record<string, unknown>>>,
    writerAfter: Map<string, number>,
  ): Promise<void> {
    const client = await this.#search.raw()
    const ids = hits.map((hit) => hit._id as string)
    // Old copies a writer touched since the switch: newer, left alone.
    const newer = new Set<string>()
    for (const [shard, mark] of writerAfter) {
      const found = await client.search({
        index: oldIndex,
        preference: `_shards:${shard}`,
        size: ids.length,
        _source: false,
        query: { bool: { filter: [{ ids: { values: ids } }, { range: { _seq_no: { gt: mark } } }] } },
      })
      for (const hit of found.hits.hits) newer.add(hit._id as string)
    }
    const current = await client.mget({ index: oldIndex, ids, _source: false })
    const operations: unknown[] = []
    for (const [i, hit] of hits.entries()) {
      const id = ids[i] as string
      if (newer.has(id)) continue
      const doc = current.docs[i] as { found?: boolean; _seq_no?: number; _primary_term?: number }
      operations.push(
        doc?.found
          ? {
              index: {
                _index: oldIndex,
                _id: id,
                if_seq_no: doc._seq_no,
                if_primary_term: doc._primary_term,
              },
            }
          : { create: { _index: oldIndex, _id: id } },
        hit._source,
      )
    }
    if (operations.length === 0) return
    const response = await client.bulk({ operations: operations as estypes.BulkOperationContainer[] })
    const failed = response.items
      .map((item) => Object.values(item)[0])
      .filter((answer) => answer && answer.status !== 409 && (answer.status < 200 || answer.status >= 300))
    if (failed.length > 0) {
      throw new SearchError(
        'E_SEARCH_REINDEX_FAILED',
        `Rollback could not restore ${failed.length} late write(s) into ${oldIndex}; first: ${failed[0]?._id} (${failed[0]?.error?.type}: ${failed[0]?.error?.reason})`,
        { index: this.readAlias },
      )
    }
  }

  async #retain(live: number): Promise<string[]> {
    const old = (await this.versions()).filter((v) => v < live)
    const drop = old.slice(0, Math.max(0, old.length - this.#keep)).map((v) => this.physical(v))
    if (drop.length > 0) await this.#search.deleteIndex(drop)
    return drop
  }
}

/** Manage a definition as versioned indices behind read/write aliases. */
export function versionedIndex<F extends FieldMap>(
  search: SearchClient,
  definition: IndexDefinition<F>,
  options: VersionedIndexOptions = {},
): VersionedIndex<F> {
  return new VersionedIndex(search, definition, options)
}
