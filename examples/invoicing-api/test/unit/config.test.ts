/**
 * The example's service addresses from the environment (src/config.ts): Redis through Sentinel
 * (`REDIS_SENTINELS` + `REDIS_SENTINEL_NAME` into ioredis' `sentinels` and `name`), the search
 * cluster's node list, Kafka's bootstrap list; bad input is refused with an error naming the
 * variable, never turned into a half-working connection.
 */
import { describe, expect, it } from 'vitest'
import { dashboardSource, resourceNames, searchClientOptions, serviceAddresses } from '../../src/config.ts'

describe('serviceAddresses', () => {
  it('defaults to the single local servers: no Sentinel, one search node', () => {
    const addresses = serviceAddresses({})
    expect(addresses.redisUrl).toBe('redis://127.0.0.1:6379')
    expect(addresses.redisOptions).toBeUndefined()
    expect(addresses.searchUrl).toBe('http://127.0.0.1:9200')
    expect(addresses.searchNodes).toBeUndefined()
    expect(searchClientOptions(addresses).node).toBe('http://127.0.0.1:9200')
    expect(addresses.kafkaBrokers).toEqual(['127.0.0.1:9092'])
  })

  it('REDIS_SENTINELS and REDIS_SENTINEL_NAME: ioredis sentinels and name, with the ACL login', () => {
    const addresses = serviceAddresses({
      REDIS_SENTINELS: ' 10.0.0.1:26379, sentinel-b:26380,[::1]:26381 ',
      REDIS_SENTINEL_NAME: 'invoicing',
      REDIS_USERNAME: 'app',
      REDIS_PASSWORD: 'secret',
    })
    expect(addresses.redisOptions).toEqual({
      username: 'app',
      password: 'secret',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-b', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      name: 'invoicing',
    })
  })

  it('TLS (rediss:// or REDIS_CA_FILE) reaches the primary found through Sentinel too', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n'
    const withCa = serviceAddresses({
      REDIS_SENTINELS: '127.0.0.1:26379',
      REDIS_SENTINEL_NAME: 'm',
      REDIS_CA_FILE: pem,
    })
    expect(withCa.redisOptions).toMatchObject({ tls: { ca: pem }, enableTLSForSentinelMode: true })
    const rediss = serviceAddresses({
      REDIS_URL: 'rediss://app:pw@primary:6380',
      REDIS_SENTINELS: '127.0.0.1:26379',
      REDIS_SENTINEL_NAME: 'm',
    })
    expect(rediss.redisOptions?.enableTLSForSentinelMode).toBe(true)
    const plain = serviceAddresses({ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'm' })
    expect(plain.redisOptions?.enableTLSForSentinelMode).toBeUndefined()
  })

  it('refuses a Sentinel list without a name, a name without a list, and malformed entries', () => {
    expect(() => serviceAddresses({ REDIS_SENTINELS: '127.0.0.1:26379' })).toThrow(
      /REDIS_SENTINELS needs REDIS_SENTINEL_NAME/,
    )
    expect(() => serviceAddresses({ REDIS_SENTINEL_NAME: 'm' })).toThrow(
      /REDIS_SENTINEL_NAME needs REDIS_SENTINELS/,
    )
    for (const bad of [
      '127.0.0.1',
      '127.0.0.1:0',
      'host:65536',
      'host:port',
      'a:1,,b:2',
      'a:1,',
      'redis://a:1',
    ]) {
      expect(() => serviceAddresses({ REDIS_SENTINELS: bad, REDIS_SENTINEL_NAME: 'm' }), bad).toThrow(
        /^REDIS_SENTINELS: /,
      )
    }
  })

  it('a comma-separated search URL is the node list the search client gets', () => {
    for (const variable of [
      'SEARCH_NODES',
      'OPENSEARCH_URL',
      'ELASTICSEARCH',
      'OPENSEARCH',
      'ELASTICSEARCH_URL',
    ]) {
      const addresses = serviceAddresses({
        [variable]: 'http://127.0.0.1:9210, http://127.0.0.1:9211,http://127.0.0.1:9212',
      })
      expect(addresses.searchNodes, variable).toEqual([
        'http://127.0.0.1:9210',
        'http://127.0.0.1:9211',
        'http://127.0.0.1:9212',
      ])
      expect(addresses.searchUrl).toBe('http://127.0.0.1:9210')
      expect(searchClientOptions(addresses).node).toEqual(addresses.searchNodes)
    }
    // SEARCH_NODES wins over the single-URL variables.
    const both = serviceAddresses({
      OPENSEARCH_URL: 'http://a:9200',
      SEARCH_NODES: 'http://b:9200,http://c:9200',
    })
    expect(both.searchNodes).toEqual(['http://b:9200', 'http://c:9200'])
    // One node stays a plain URL (a test overriding searchUrl keeps working).
    const one = serviceAddresses({ OPENSEARCH_URL: 'https://user:pw@search:9200' })
    expect(one.searchNodes).toBeUndefined()
    expect(searchClientOptions({ ...one, searchUrl: 'http://other:9200' }).node).toBe('http://other:9200')
  })

  it('refuses a search node that is not an http(s) URL, naming the variable and never the password', () => {
    expect(() => serviceAddresses({ SEARCH_NODES: 'http://a:9200,,http://b:9200' })).toThrow(
      /^SEARCH_NODES: an empty entry/,
    )
    expect(() => serviceAddresses({ OPENSEARCH_URL: 'http://a:9200,search-b:9200' })).toThrow(
      /^OPENSEARCH_URL: "search-b:9200" is not an http\(s\) URL/,
    )
    let message = ''
    try {
      serviceAddresses({ SEARCH_NODES: 'http://a:9200,user:hunter2@ b' })
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/^SEARCH_NODES: /)
    expect(message).not.toContain('hunter2')
  })

  it('KAFKA_BROKERS: a trimmed bootstrap list; an empty entry is refused', () => {
    expect(
      serviceAddresses({ KAFKA_BROKERS: '127.0.0.1:19092, 127.0.0.1:19093,127.0.0.1:19094' }).kafkaBrokers,
    ).toEqual(['127.0.0.1:19092', '127.0.0.1:19093', '127.0.0.1:19094'])
    expect(() => serviceAddresses({ KAFKA_BROKERS: 'a:9092,,b:9092' })).toThrow(
      /^KAFKA_BROKERS: an empty entry/,
    )
  })
})

describe('dashboardSource', () => {
  it('INVOICING_DASHBOARD_SOURCE: embedded when unset, flink when asked, anything else refused', () => {
    expect(dashboardSource({})).toBe('embedded')
    expect(dashboardSource({ INVOICING_DASHBOARD_SOURCE: '' })).toBe('embedded')
    expect(dashboardSource({ INVOICING_DASHBOARD_SOURCE: 'embedded' })).toBe('embedded')
    expect(dashboardSource({ INVOICING_DASHBOARD_SOURCE: ' Flink ' })).toBe('flink')
    expect(() => dashboardSource({ INVOICING_DASHBOARD_SOURCE: 'kafka-streams' })).toThrow(
      /^INVOICING_DASHBOARD_SOURCE must be embedded or flink, got "kafka-streams"/,
    )
  })

  it("the Flink job's topics and group carry the generation, apart from the embedded group", () => {
    const names = resourceNames('g7')
    expect(names.changelogTopics).toEqual({
      overall: 'ayala-invoicing-g7-dashboard-flink-overall',
      byStatus: 'ayala-invoicing-g7-dashboard-flink-by-status',
      byDay: 'ayala-invoicing-g7-dashboard-flink-by-day',
      topClients: 'ayala-invoicing-g7-dashboard-flink-top-clients',
    })
    for (const topic of Object.values(names.changelogTopics))
      expect(topic.startsWith(names.flinkPrefix)).toBe(true)
    expect(names.flinkGroupId).not.toBe(names.groupId)
  })
})
