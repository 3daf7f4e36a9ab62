/**
 * `createSearchClient({ client })` over an official client the application already has, on the
 * harness's real engines: an `@elastic/elasticsearch` client against Elasticsearch (detected,
 * indexes, bulk, searches, PIT paging through it), the same client class built with
 * `OpenSearchTransport` against OpenSearch, and the refusals: the Elastic client's product check
 * against OpenSearch, the same without the check but with its `compatible-with` media types
 * (406 on bodies), a client against another engine than `engine` names, an
 * `@opensearch-project/opensearch` client, options that belong to the client. `close()` never
 * closes the borrowed client: it answers after the wrapper closed.
 */
import { uniqueName } from '@ayala/testkit'
import { Client, Transport, type TransportOptions } from '@elastic/elasticsearch'
import { Client as OpenSearchJsClient } from '@opensearch-project/opensearch'
import { afterAll, describe, expect, it } from 'vitest'
import { createSearchClient, OpenSearchTransport, SearchError } from '../../../src/index.js'
import { urls } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

/** A Transport without the product check, keeping the client's vendored media types. */
class NoProductCheck extends Transport {
  constructor(options: TransportOptions) {
    const { productCheck: _dropped, ...rest } = options
    super(rest)
  }
}

const opened: Array<{ close(): Promise<unknown> }> = []
function official(node: string, Transport?: typeof import('@elastic/elasticsearch').Transport): Client {
  const client = new Client({ node, ...(Transport ? { Transport } : {}) })
  opened.push(client)
  return client
}

afterAll(async () => {
  await Promise.all(opened.map((client) => client.close()))
})

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
    return undefined
  } catch (error) {
    return (error as SearchError).code
  }
}

describe.each([
  { engine: 'elasticsearch' as const, node: urls.elasticsearch, transport: undefined },
  { engine: 'opensearch' as const, node: urls.opensearch, transport: OpenSearchTransport },
])('a borrowed client on $engine', ({ engine, node, transport }) => {
  it('detects the engine, indexes, searches and pages through it, and is left open by close()', async () => {
    const raw = official(node, transport)
    const search = createSearchClient({ client: raw, searchTimeout: '30s' })
    expect(search.options.borrowed).toBe(true)
    expect(search.options.nodes).toEqual([node])
    expect(await search.engine()).toBe(engine)
    expect(await search.raw()).toBe(raw)
    const definition = basicInvoices(uniqueName('borrowed'))
    try {
      await search.createIndex(definition)
      const report = await search.bulk(
        definition,
        Array.from({ length: 30 }, (_, i) => basicInvoice(i)),
        { refresh: true },
      )
      expect(report.failed).toBe(0)
      const result = await search.search(definition, { size: 0 })
      expect(result.total?.value).toBe(30)
      const seen = new Set<string>()
      let cursor: string | undefined
      do {
        const page = await search.searchPage(definition, { size: 7, sort: [{ field: 'number' }], cursor })
        for (const hit of page.hits) seen.add(hit.id)
        cursor = page.nextCursor ?? undefined
      } while (cursor !== undefined)
      expect(seen.size).toBe(30)
    } finally {
      await search.deleteIndex(definition.name)
      await search.close()
    }
    // The wrapper closed; the application's client still answers.
    const info = (await raw.transport.request({ method: 'GET', path: '/' })) as { tagline?: string }
    expect(typeof info.tagline).toBe('string')
  })
})

describe('refusals', () => {
  it('an Elastic client whose product check refuses OpenSearch: E_SEARCH_CLIENT_ENGINE naming the fix', async () => {
    const search = createSearchClient({ client: official(urls.opensearch), searchTimeout: '30s' })
    const error = (await search.engine().catch((e: unknown) => e)) as SearchError
    expect(error).toBeInstanceOf(SearchError)
    expect(error.code).toBe('E_SEARCH_CLIENT_ENGINE')
    expect(error.retriable).toBe(false)
    expect(error.message).toContain('OpenSearchTransport')
    expect(error.message).toContain(urls.opensearch)
    // The interactive reads reject with the same code (not as unavailable), and the breaker stays closed.
    expect(await codeOf(search.search(basicInvoices('never-created'), {}))).toBe('E_SEARCH_CLIENT_ENGINE')
    expect(search.readStats().unavailable).toBe(0)
    await search.close()
  })

  it('an Elastic client without the product check but with compatible-with media types: 406 seen at once', async () => {
    const search = createSearchClient({ client: official(urls.opensearch, NoProductCheck) })
    const error = (await search.engine().catch((e: unknown) => e)) as SearchError
    expect(error.code).toBe('E_SEARCH_CLIENT_ENGINE')
    expect(error.message).toContain('406')
    await search.close()
  })

  it('a client reaching another engine than `engine` names', async () => {
    const search = createSearchClient({ client: official(urls.elasticsearch), engine: 'opensearch' })
    const error = (await search.engine().catch((e: unknown) => e)) as SearchError
    expect(error.code).toBe('E_SEARCH_CLIENT_ENGINE')
    expect(error.message).toContain("engine 'opensearch' was given")
    await search.close()
  })

  it('an @opensearch-project/opensearch client, options of the client, neither node nor client', async () => {
    const os = new OpenSearchJsClient({ node: urls.opensearch })
    opened.push(os)
    const refused = (options: Record<string, unknown>) => {
      try {
        createSearchClient(options as never)
        return undefined
      } catch (error) {
        return error as SearchError
      }
    }
    const openSearchJs = refused({ client: os })
    expect(openSearchJs?.code).toBe('E_SEARCH_INVALID_OPTION')
    expect(openSearchJs?.message).toContain('@opensearch-project/opensearch')
    const owned = refused({
      client: official(urls.elasticsearch),
      node: urls.elasticsearch,
      requestTimeout: '5s',
    })
    expect(owned?.code).toBe('E_SEARCH_INVALID_OPTION')
    expect(owned?.message).toContain('node, requestTimeout cannot be given with client')
    expect(refused({ client: { search: () => undefined } })?.code).toBe('E_SEARCH_INVALID_OPTION')
    expect(refused({})?.message).toContain('give node')
  })
})
