import { afterAll, describe, expect, it } from 'vitest'
import { OPENSEARCH_URL, uniqueName } from '../helpers/env.js'

// OpenSearch 2.19.6 is the full-featured engine: the harness loads analysis-common,
// mapper-extras, lang-painless, reindex and parent-join as classpath modules. Plain fetch keeps the
// harness free of a client dependency (the official Elasticsearch client refuses OpenSearch).

const created: string[] = []

async function os<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, signal: AbortSignal.timeout(30_000) }
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' }
    init.body = JSON.stringify(body)
  }
  const res = await fetch(new URL(path, OPENSEARCH_URL), init)
  const json = (await res.json()) as T
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${JSON.stringify(json)}`)
  return json
}

/** Spanish text with accent folding: lowercase -> asciifolding(preserve_original) -> stop -> stem. */
const spanishFolded = {
  analysis: {
    filter: {
      spanish_stop: { type: 'stop', stopwords: '_spanish_' },
      spanish_stemmer: { type: 'stemmer', language: 'light_spanish' },
      folding: { type: 'asciifolding', preserve_original: true },
      autocomplete: { type: 'edge_ngram', min_gram: 2, max_gram: 15 },
    },
    analyzer: {
      spanish_folded: {
        tokenizer: 'standard',
        filter: ['lowercase', 'folding', 'spanish_stop', 'spanish_stemmer'],
      },
      code_prefix: { tokenizer: 'keyword', filter: ['lowercase', 'autocomplete'] },
    },
  },
}

async function createIndex(mappings: unknown): Promise<string> {
  const index = uniqueName('services-test')
  await os('PUT', `/${index}`, {
    settings: { number_of_shards: 1, number_of_replicas: 0, ...spanishFolded },
    mappings,
  })
  created.push(index)
  return index
}

afterAll(async () => {
  for (const index of created) await os('DELETE', `/${index}`)
})

describe('OpenSearch through the harness', () => {
  it('answers as OpenSearch 2.19 with the modules the SDK needs', async () => {
    const info = await os('GET', '/')
    expect(info.version.distribution).toBe('opensearch')
    expect(info.version.number).toMatch(/^2\.19\./)
    const nodes = await os('GET', '/_nodes/plugins')
    const plugins = Object.values<any>(nodes.nodes)[0].plugins.map((p: { name: string }) => p.name)
    for (const cls of [
      'Netty4Plugin',
      'CommonAnalysisPlugin',
      'MapperExtrasPlugin',
      'PainlessPlugin',
      'ReindexPlugin',
    ]) {
      expect(plugins.some((name: string) => name.endsWith(cls))).toBe(true)
    }
  })

  it('indexes and searches documents', async () => {
    const index = await createIndex({
      properties: { number: { type: 'keyword' }, total: { type: 'scaled_float', scaling_factor: 100 } },
    })
    for (const [i, total] of [12.5, 99.99, 250].entries()) {
      await os('PUT', `/${index}/_doc/${i}?refresh=true`, { number: `F-00${i}`, total })
    }
    const res = await os('POST', `/${index}/_search`, {
      query: { range: { total: { gte: 50 } } },
      sort: [{ total: 'asc' }],
    })
    expect(res.hits.total.value).toBe(2)
    expect(res.hits.hits.map((h: any) => h._source.number)).toEqual(['F-001', 'F-002'])
  })

  it('folds accents in Spanish text: "electronica" finds "Electrónica"', async () => {
    const index = await createIndex({
      properties: {
        name: { type: 'text', analyzer: 'spanish_folded' },
        suggest: { type: 'search_as_you_type' },
        code: { type: 'text', analyzer: 'code_prefix', search_analyzer: 'keyword' },
      },
    })
    const docs = [
      { name: 'Electrónica del Norte', suggest: 'Electrónica del Norte', code: 'B-12345678' },
      { name: 'Ferretería Central', suggest: 'Ferretería Central', code: 'A-87654321' },
    ]
    for (const [i, doc] of docs.entries()) await os('PUT', `/${index}/_doc/${i}?refresh=true`, doc)

    const analyze = async (text: string) =>
      (await os('POST', `/${index}/_analyze`, { analyzer: 'spanish_folded', text })).tokens.map(
        (t: { token: string }) => t.token,
      )
    const terms = await analyze('Las Facturas Electrónicas')
    expect(terms).not.toContain('las') // Spanish stop word
    expect(terms).toContain('factur') // light_spanish stem
    expect(terms).toContain('electronic') // folded and stemmed
    // Same terms with or without the accent (preserve_original adds a token only when folding changed one).
    expect([...new Set(await analyze('Electrónicas'))]).toEqual(await analyze('electronicas'))

    const match = async (query: unknown) =>
      (await os('POST', `/${index}/_search`, { query })).hits.hits.map((h: any) => h._id)
    expect(await match({ match: { name: 'electronica' } })).toEqual(['0'])
    expect(await match({ match: { name: 'ELECTRÓNICAS' } })).toEqual(['0'])
    expect(await match({ match: { name: 'ferreteria' } })).toEqual(['1'])
    expect(
      await match({
        multi_match: {
          query: 'norte elec',
          type: 'bool_prefix',
          fields: ['suggest', 'suggest._2gram', 'suggest._3gram'],
        },
      }),
    ).toEqual(['0'])
    expect(await match({ match: { code: 'b-123' } })).toEqual(['0'])
  })

  it('runs painless scripts and reindexes', async () => {
    const index = await createIndex({ properties: { total: { type: 'scaled_float', scaling_factor: 100 } } })
    await os('PUT', `/${index}/_doc/1?refresh=true`, { total: 10.25 })
    const scripted = await os('POST', `/${index}/_search`, {
      script_fields: { doubled: { script: { source: "doc['total'].value * params.f", params: { f: 2 } } } },
    })
    expect(scripted.hits.hits[0].fields.doubled[0]).toBeCloseTo(20.5)

    const dest = uniqueName('services-test')
    created.push(dest)
    const reindexed = await os('POST', '/_reindex?refresh=true', { source: { index }, dest: { index: dest } })
    expect(reindexed.created).toBe(1)
  })
})
