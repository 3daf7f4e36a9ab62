import type { SearchClient } from '@ayala/search'

type Client = Awaited<ReturnType<SearchClient['raw']>>

/**
 * Remove what a test wrote into a data stream. OpenSearch: `DELETE _data_stream/<name>`. The
 * harness's Elasticsearch is built without its data-streams module (no `_data_stream` API), so
 * a data stream there cannot be deleted: it is rolled over and its old backing indices deleted,
 * leaving one empty write index (tests reuse one name and tell runs apart by `service.name`).
 */
export async function clearDataStream(raw: Client, engine: 'elasticsearch' | 'opensearch', name: string) {
  if (engine === 'opensearch') {
    await raw.transport.request({ method: 'DELETE', path: `/_data_stream/${name}` }, { ignore: [404] })
    return
  }
  if (!(await raw.indices.exists({ index: name }))) return
  const backing = Object.keys(await raw.indices.get({ index: name, expand_wildcards: 'all' }))
  await raw.transport.request({ method: 'POST', path: `/${name}/_rollover` })
  for (const index of backing) await raw.indices.delete({ index })
}
