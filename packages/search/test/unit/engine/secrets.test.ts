/**
 * Secrets never leave: credentials in node URLs move to `auth`, nothing secret is in
 * `client.options`, and every message the package builds is redacted. (The real engine, a proxy
 * that checks credentials and TLS are in test/integration/auth-tls.test.ts.)
 */
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { createSearchClient, redactText, redactUrl, SearchError } from '../../../src/index.js'

const PASSWORD = 'pa55-W0rd!x'
const b64 = (s: string) => Buffer.from(s).toString('base64')

function leaks(text: string): boolean {
  return (
    text.includes(PASSWORD) ||
    text.includes(encodeURIComponent(PASSWORD)) ||
    text.includes(b64(`alice:${PASSWORD}`))
  )
}

describe('credentials in options', () => {
  it('moves URL credentials into auth and keeps them out of client.options', () => {
    const client = createSearchClient({
      node: `https://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:9200`,
      engine: 'opensearch',
    })
    expect(client.options.nodes).toEqual(['https://127.0.0.1:9200'])
    expect(client.options.credentials).toBe('user "alice"')
    expect(leaks(JSON.stringify(client.options))).toBe(false)
    expect(leaks(inspect(client, { depth: 8 }))).toBe(false)
  })

  it('keeps auth, tls and an authorization header out of client.options', () => {
    const client = createSearchClient({
      node: 'https://127.0.0.1:9200',
      engine: 'elasticsearch',
      auth: { apiKey: { id: 'key-1', api_key: PASSWORD } },
      tls: { ca: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n' },
      clientOptions: { headers: { 'x-trace': 'on' } },
    })
    expect(client.options.credentials).toBe('API key "key-1"')
    expect(client.options.customCa).toBe(true)
    expect(client.options.clientOptions).toEqual({ headers: { 'x-trace': 'on' } })
    expect(inspect(client.options, { depth: 8 })).not.toContain(PASSWORD)
    const header = createSearchClient({
      node: 'http://127.0.0.1:9200',
      clientOptions: { headers: { authorization: `Bearer ${PASSWORD}` } },
    })
    expect(header.options.credentials).toBe('an authorization header')
    expect(JSON.stringify(header.options)).not.toContain(PASSWORD)
  })

  it('refuses credentials given twice or malformed, without showing them', () => {
    const attempts = [
      () =>
        createSearchClient({
          node: `http://alice:${PASSWORD}@127.0.0.1:9200`,
          auth: { username: 'bob', password: PASSWORD },
        }),
      () =>
        createSearchClient({
          node: [`http://alice:${PASSWORD}@127.0.0.1:9200`, `http://alice:other-pass@127.0.0.1:9201`],
        }),
      () => createSearchClient({ node: 'http://127.0.0.1:9200', auth: { username: 'alice' } as never }),
      () => createSearchClient({ node: 'http://127.0.0.1:9200', searchTimeout: 0 }),
      () => createSearchClient({ node: 'http://127.0.0.1:9200', breakerThreshold: 0 }),
      () => createSearchClient({ node: 'http://127.0.0.1:9200', fallback: { suggest: () => [] } as never }),
    ]
    for (const attempt of attempts) {
      let caught: unknown
      try {
        attempt()
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(SearchError)
      expect((caught as SearchError).code).toBe('E_SEARCH_INVALID_OPTION')
      expect(leaks(inspect(caught, { depth: 8 }))).toBe(false)
    }
  })
})

describe('redaction', () => {
  it('redacts URL passwords and credential values in text', () => {
    expect(redactText(`connect to http://alice:${PASSWORD}@host:9200/x failed`)).toBe(
      'connect to http://alice:***@host:9200/x failed',
    )
    expect(redactText(`Authorization: Basic ${b64(`alice:${PASSWORD}`)}`)).toBe(
      'Authorization: Basic [redacted]',
    )
    expect(redactText('the basic search analyzer is fine')).toBe('the basic search analyzer is fine')
    expect(redactText(`echoed ${PASSWORD} back`, [PASSWORD])).toBe('echoed *** back')
    expect(redactUrl(`https://alice:${PASSWORD}@host:9200/`)).toBe('https://alice@host:9200')
  })
})
