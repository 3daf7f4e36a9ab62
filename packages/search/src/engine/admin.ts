/**
 * Index administration of a search client: create an index from its definition (settings and
 * strict mappings, optionally under another name and with aliases), delete indices, refresh.
 * Each call uses the transport's `requestTimeout` and retries; failures are `SearchError`s (an
 * index the engine cannot analyse for want of a module: `AnalysisMissingError`).
 */
import type { estypes } from '@elastic/elasticsearch'
import type { IndexDefinition } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'
import { indexCreationError } from './analysis-missing.js'
import type { ClientState } from './client-state.js'
import { connect } from './connection.js'
import { engineError } from './engine-error.js'

/** Options of {@link createIndex}. */
export interface CreateIndexOptions {
  /** Physical index name. @default definition.name */
  name?: string | undefined
  /** Aliases to create with it. */
  aliases?: Record<string, estypes.IndicesAlias> | undefined
}

/** Create the index of a definition (settings + mappings). */
export async function createIndex<F extends FieldMap>(
  state: ClientState,
  definition: IndexDefinition<F>,
  options: CreateIndexOptions,
): Promise<void> {
  const { client, adapter } = await connect(state)
  const index = options.name ?? definition.name
  try {
    await client.indices.create({
      index,
      settings: definition.settings,
      mappings: definition.mappings,
      ...(options.aliases ? { aliases: options.aliases } : {}),
    })
  } catch (error) {
    // A node without analysis-common or mapper-extras: named, with the declarations to use.
    throw indexCreationError(error, index, definition.fields, adapter.kind)
  }
}

/** Delete indices (missing ones are ignored). */
export async function deleteIndex(state: ClientState, index: string | string[]): Promise<void> {
  const { client } = await connect(state)
  try {
    await client.indices.delete({ index, ignore_unavailable: true })
  } catch (error) {
    throw engineError(error, String(index))
  }
}

/** Make recent writes searchable. */
export async function refresh(state: ClientState, index: string): Promise<void> {
  const { client } = await connect(state)
  try {
    await client.indices.refresh({ index })
  } catch (error) {
    throw engineError(error, index)
  }
}
