import { serviceUrls } from '@ayala/testkit'
import type { Client } from '@elastic/elasticsearch'
import { createSearchClient, type EngineKind } from '../../src/index.js'

export const urls = serviceUrls()

/** Both real nodes of the harness, for contract suites. */
export const ENGINES: Array<{ engine: EngineKind; node: string }> = [
  { engine: 'elasticsearch', node: urls.elasticsearch },
  { engine: 'opensearch', node: urls.opensearch },
]

/**
 * A client of one harness node for tests that are not about time budgets: interactive reads get
 * 30 s instead of the 1 s default, because a JVM node of this shared 2-core machine was seen to
 * stall single requests for seconds (bounded-reads.test.ts tests the budgets themselves).
 */
export function clientFor(engine: EngineKind) {
  return createSearchClient({
    node: engine === 'opensearch' ? urls.opensearch : urls.elasticsearch,
    engine,
    searchTimeout: '30s',
  })
}

/** Plain bulk load for fixtures (the bulk indexer has its own tests). */
export async function loadDocs(
  raw: Client,
  index: string,
  docs: Array<Record<string, unknown> & { id: string }>,
) {
  for (let start = 0; start < docs.length; start += 2_000) {
    const operations = docs
      .slice(start, start + 2_000)
      .flatMap((doc) => [{ index: { _index: index, _id: doc.id } }, doc])
    const response = await raw.bulk({ operations })
    if (response.errors) throw new Error(`fixture load failed: ${JSON.stringify(response.items[0])}`)
  }
  await raw.indices.refresh({ index })
}

/** Open search contexts (scroll + PIT) on the node: the number a leaked PIT would raise. */
export async function openContexts(raw: Client): Promise<number> {
  const stats = (await raw.transport.request({ method: 'GET', path: '/_nodes/stats/indices/search' })) as {
    nodes: Record<string, { indices: { search: { open_contexts: number } } }>
  }
  return Object.values(stats.nodes).reduce((sum, node) => sum + node.indices.search.open_contexts, 0)
}
