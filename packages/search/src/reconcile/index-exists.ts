/**
 * Whether an index exists, and creating it from its definition when it does not (a concurrent
 * creation by another instance is fine): a lost index is recreated with its analysis and strict
 * mapping, never left to a write's dynamic mapping.
 */
import type { Client } from '@elastic/elasticsearch'
import { engineError } from '../engine/engine-error.js'
import type { SearchClient } from '../engine/search-client.js'
import type { IndexDefinition } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'

/** Whether `index` (an index or alias) exists. */
export async function indexExists(client: Client, index: string): Promise<boolean> {
  try {
    return await client.indices.exists({ index })
  } catch (error) {
    throw engineError(error, index)
  }
}

/** Create the index from its definition when it does not exist (a concurrent creation is fine). @returns whether it was created */
export async function ensureIndexExists<F extends FieldMap>(
  search: SearchClient,
  definition: IndexDefinition<F>,
  index: string,
): Promise<boolean> {
  const client = await search.raw()
  if (await indexExists(client, index)) return false
  try {
    await search.createIndex(definition, { name: index })
    return true
  } catch (error) {
    const type = (error as { cause?: { body?: { error?: { type?: string } } } }).cause?.body?.error?.type
    if (type === 'resource_already_exists_exception') return false
    throw error
  }
}
