/**
 * The engine adapters: every difference between Elasticsearch and OpenSearch that the package
 * depends on beyond the transport (see `transport.ts`) goes through {@link EngineAdapter}. Today
 * that is the point in time: `POST /<index>/_pit` and `DELETE /_pit` on Elasticsearch (the
 * official client's calls), `POST /<index>/_search/point_in_time` and `DELETE
 * /_search/point_in_time` on OpenSearch (plain transport requests, `pit_id` in the answer).
 */
import type { Client } from '@elastic/elasticsearch'
import { SearchError } from '../errors.js'

/** Which engine a client talks to. */
export type EngineKind = 'elasticsearch' | 'opensearch'

/** Engine-specific calls (internal: a client picks one by its engine; none can be plugged in). */
export interface EngineAdapter {
  /** Engine flavour. */
  readonly kind: EngineKind
  /** Open a point in time; returns its id. */
  openPit(client: Client, index: string, keepAlive: string): Promise<string>
  /** Close a point in time. */
  closePit(client: Client, id: string): Promise<void>
}

const elasticsearchAdapter: EngineAdapter = {
  kind: 'elasticsearch',
  async openPit(client, index, keepAlive) {
    const response = await client.openPointInTime({ index, keep_alive: keepAlive })
    return response.id
  },
  async closePit(client, id) {
    await client.closePointInTime({ id })
  },
}

const opensearchAdapter: EngineAdapter = {
  kind: 'opensearch',
  async openPit(client, index, keepAlive) {
    const response = (await client.transport.request({
      method: 'POST',
      path: `/${encodeURIComponent(index)}/_search/point_in_time`,
      querystring: { keep_alive: keepAlive },
    })) as { pit_id?: string }
    if (!response.pit_id) throw new SearchError('E_SEARCH_ENGINE', 'OpenSearch returned no pit_id', { index })
    return response.pit_id
  },
  async closePit(client, id) {
    await client.transport.request({
      method: 'DELETE',
      path: '/_search/point_in_time',
      body: { pit_id: [id] },
    })
  },
}

/** The adapter of an engine. */
export function adapterFor(kind: EngineKind): EngineAdapter {
  return kind === 'opensearch' ? opensearchAdapter : elasticsearchAdapter
}
