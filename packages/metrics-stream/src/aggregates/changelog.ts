/**
 * Changelog figures: figures another engine computed (a Flink SQL job into an `upsert-kafka`
 * sink, a Kafka Streams `KTable#toStream()`, a ksqlDB table), read from its upsert changelog
 * topic and stored as they are.
 *
 * A changelog record is one row of the engine's result table: its key identifies the row (the
 * `GROUP BY` columns), its value is the row's current figures as a JSON object, and a null value
 * (a tombstone) says the row is gone. Each changelog figure names the value column it stores, and
 * reads as `Record<group, number>`, the shape of a grouped `count` or `sum`: the group is the
 * key's text, or the values of the key columns joined by `|` (as the embedded aggregates join
 * their dimensions), so a dashboard can move a figure from the embedded consumer to a Flink job
 * without changing its readers.
 *
 * Applying one is an `HSET` of the row's value (an absolute value) or an `HDEL` for a tombstone,
 * in the same apply script as the partition's offset, version bump and change notice
 * (`consume/changelog-chunk.ts`): exactly once by the offset check, and a replay (a restart, a
 * rebuild from the start of the topic) writes the same values again, so it is harmless even where
 * the offsets would not guard it. A compacted changelog topic is fine to rebuild from: compaction
 * keeps each row's latest value, which is all a changelog figure needs.
 */
import { MetricsStreamError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'
import type { Aggregate, View } from './define.js'
import { defineView } from './define.js'

/** One figure of a changelog: the value column it stores. */
export interface ChangelogFigureOptions {
  /**
   * The column of the row's JSON value holding the figure: an integer (a count, a sum of cents),
   * as a JSON number or a string of digits, within JavaScript's safe integers. `null` removes the
   * row from the figure (as a tombstone does); a missing column or any other value dead-letters
   * the record (`E_STREAM_INVALID_EVENT`).
   */
  column: string
}

/** Options of {@link changelog}. */
export interface ChangelogOptions<F extends Record<string, ChangelogFigureOptions>> {
  /** The upsert changelog topic (give it to the consumer's source too). */
  topic: string
  /**
   * How a record's key becomes the figure's group (the `Record` key a read returns):
   * - omitted: the key's UTF-8 text (Kafka Streams' `Serdes.String()`, ksqlDB's `KAFKA` key
   *   format, Flink's `key.format = 'raw'`);
   * - an array of column names: the key is a JSON object (Flink's `key.format = 'json'`, ksqlDB's
   *   `JSON` key format) and the group is those columns' values joined by `|`;
   * - a function of the key's bytes.
   *
   * A record without a key, or whose key does not decode, is dead-lettered.
   * @default the key's UTF-8 text
   */
  key?: readonly string[] | ((key: Buffer) => string) | undefined
  /** The figures, by name (`[A-Za-z0-9_-]`): each one value column of the row. */
  figures: F
}

/** The figures of a changelog, each read as `Record<group, number>`. */
export type ChangelogFigures<F> = {
  readonly [K in keyof F]: Aggregate<any, Record<string, number>>
}

const NAME = /^[A-Za-z0-9_-]+$/
const CHANGELOG_KEYS: ReadonlySet<string> = new Set(['topic', 'key', 'figures'])
const FIGURE_KEYS: ReadonlySet<string> = new Set(['column'])

function invalid(message: string): MetricsStreamError {
  return new MetricsStreamError('E_STREAM_INVALID_OPTION', message)
}

function keyGroup(key: ChangelogOptions<any>['key'], topic: string): (key: Buffer) => string {
  if (key === undefined) return (bytes) => bytes.toString('utf8')
  if (typeof key === 'function') return key
  if (!Array.isArray(key) || key.length === 0 || key.some((c) => typeof c !== 'string' || c === '')) {
    throw invalid(`changelog ${topic}: key must be a function or a non-empty array of column names`)
  }
  const columns = [...key]
  return (bytes) => {
    let parsed: unknown
    try {
      parsed = JSON.parse(bytes.toString('utf8'))
    } catch (error) {
      throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Changelog key is not JSON', {
        cause: error,
        topic,
      })
    }
    if (typeof parsed !== 'object' || parsed === null) {
      throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Changelog key is not a JSON object', { topic })
    }
    const row = parsed as Record<string, unknown>
    const parts = columns.map((column) => {
      const value = row[column]
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        return String(value)
      }
      throw new MetricsStreamError(
        'E_STREAM_INVALID_EVENT',
        `Changelog key column ${JSON.stringify(column)} is not a string, number or boolean`,
        { topic },
      )
    })
    return parts.length === 1 ? (parts[0] as string) : parts.join('|')
  }
}

/**
 * Figures read from an upsert changelog topic (module header), to put among a view's aggregates,
 * alone or beside embedded ones:
 *
 * ```ts
 * const view = defineView({
 *   name: 'invoices',
 *   eventTime: (e: InvoiceEvent) => e.at,
 *   aggregates: {
 *     ...invoiceAggregates, // counted by the embedded consumer from the events topic
 *     ...changelog({ topic: 'invoices-by-status', key: ['status'], figures: {
 *       flinkByStatus: { column: 'invoices' },
 *       flinkAmountByStatus: { column: 'amount_cents' },
 *     } }),
 *   },
 * })
 * ```
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` for an unknown key, an invalid topic, key
 * or figure name, or no figures
 */
export function changelog<const F extends Record<string, ChangelogFigureOptions>>(
  options: ChangelogOptions<F>,
): ChangelogFigures<F> {
  checkOptionKeys(options, CHANGELOG_KEYS, 'changelog')
  const { topic } = options
  if (typeof topic !== 'string' || topic.length === 0)
    throw invalid('changelog: topic must be a non-empty string')
  const group = keyGroup(options.key, topic)
  const names = Object.keys(options.figures ?? {})
  if (names.length === 0) throw invalid(`changelog ${topic}: no figures`)
  const dimensions = Object.freeze(Array.isArray(options.key) ? [...options.key] : ['key'])
  const figures: Record<string, Aggregate<any, Record<string, number>>> = {}
  for (const name of names) {
    const figure = options.figures[name] as ChangelogFigureOptions
    if (!NAME.test(name)) throw invalid(`Invalid changelog figure name ${JSON.stringify(name)}`)
    checkOptionKeys(figure, FIGURE_KEYS, `changelog figure ${name}`)
    if (typeof figure.column !== 'string' || figure.column === '') {
      throw invalid(`changelog figure ${name}: column must be a non-empty string`)
    }
    figures[name] = Object.freeze({
      kind: 'latest',
      group: () => undefined,
      amount: () => 0,
      member: undefined,
      bucket: undefined,
      dimensions,
      retentionMs: Number.POSITIVE_INFINITY,
      readBuckets: 30,
      size: 0,
      exact: false,
      changelog: Object.freeze({ topic, group, column: figure.column }),
    })
  }
  return Object.freeze(figures) as ChangelogFigures<F>
}

/** The definition of a view made of one changelog's figures, given to {@link defineChangelogView}. */
export interface ChangelogViewDefinition<F extends Record<string, ChangelogFigureOptions>>
  extends ChangelogOptions<F> {
  /** The view's name, part of its Redis keys (`[A-Za-z0-9_-]`). */
  name: string
}

/**
 * A view whose figures all come from one upsert changelog topic (a Flink SQL job's
 * `upsert-kafka` sink, a Kafka Streams `KTable#toStream()`, a ksqlDB table): read with
 * `createDashboard` like any view, consumed by `createMetricsConsumer` with a source reading
 * `topic`. A record of any other topic is dead-lettered.
 *
 * ```ts
 * const view = defineChangelogView({
 *   name: 'invoices_flink',
 *   topic: 'invoices-by-status',
 *   key: ['status'],
 *   figures: { byStatus: { column: 'invoices' }, amountByStatus: { column: 'amount_cents' } },
 * })
 * ```
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` as {@link changelog} and {@link defineView}
 */
export function defineChangelogView<const F extends Record<string, ChangelogFigureOptions>>(
  definition: ChangelogViewDefinition<F>,
): View<unknown, unknown, ChangelogFigures<F>> {
  const { name, ...options } = definition
  const aggregates = changelog(options as ChangelogOptions<F>)
  return defineView<unknown, unknown, ChangelogFigures<F>>({
    name,
    eventTime: () => {
      throw new MetricsStreamError(
        'E_STREAM_INVALID_EVENT',
        `View ${name} reads the changelog ${definition.topic} only`,
      )
    },
    aggregates,
  })
}
