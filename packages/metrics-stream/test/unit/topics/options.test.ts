/**
 * `ensureViewTopics`'s options, unit level: everything invalid is refused with
 * `E_STREAM_INVALID_OPTION` before any call to Kafka (the client is a fake that counts the admin
 * clients asked of it: none), and
 * the plan: derived `.dlq`/`.late` names, retention in whole ms (`-1` forever), what is checked on
 * an existing topic (only what was given).
 */
import type { Kafka } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { DEFAULT_VIEW_TOPICS_OPTIONS, ensureViewTopics, type ViewTopicsOptions } from '../../../src/index.js'
import { resolveViewTopicsOptions } from '../../../src/topics/options.js'

// A unit test may use a fake: nothing below talks to Kafka.
let admins = 0
const kafka = {
  admin: () => {
    admins++
    throw new Error('the fake has no admin client')
  },
} as unknown as Kafka

async function refusal(options: Record<string, unknown>) {
  const error = await ensureViewTopics({ kafka, topic: 'invoices', ...options } as ViewTopicsOptions).catch(
    (e: unknown) => e as { code?: string; message?: string },
  )
  return { code: (error as { code?: string }).code, message: (error as { message?: string }).message ?? '' }
}

describe('ensureViewTopics options', () => {
  it.each([
    [{ topic: '' }, 'topic must be a Kafka topic name'],
    [{ topic: 'has space' }, 'topic must be a Kafka topic name'],
    [{ topic: 'x'.repeat(250) }, 'topic must be a Kafka topic name'],
    [{ topic: '..' }, 'topic must be a Kafka topic name'],
    [{ lateTopic: 'invoices.dlq' }, 'three different topics'],
    [{ partitions: 0 }, 'partitions must be a positive integer'],
    [{ partitions: 1.5 }, 'partitions must be a positive integer'],
    [{ replicationFactor: -1 }, 'replicationFactor must be a positive integer'],
    [{ minInsyncReplicas: 2 }, 'minInsyncReplicas needs replicationFactor'],
    [{ minInsyncReplicas: 3, replicationFactor: 2 }, 'must not exceed replicationFactor'],
    [{ retention: '5 days' }, 'Invalid duration for ensureViewTopics: retention'],
    [{ retention: 0 }, 'retention must be at least 1 ms'],
    [{ sideTopics: { partitions: 0 } }, 'sideTopics.partitions must be a positive integer'],
    [{ sideTopics: { retention: 'x' } }, 'sideTopics.retention'],
    [{ sideTopics: { replicas: 2 } }, 'unknown option "replicas"'],
    [{ timeout: 0 }, 'timeout must be at least 1 ms'],
    [{ partiton: 3 }, 'unknown option "partiton"'],
    [{ kafka: {} }, 'kafka must be a kafkajs client'],
  ])('%j is refused before any Kafka call', async (options, message) => {
    const before = admins
    const { code, message: text } = await refusal(options)
    expect(admins).toBe(before)
    expect(code).toBe('E_STREAM_INVALID_OPTION')
    expect(text).toContain(message)
  })

  it('a valid call asks the client for its admin (the fake counts it)', async () => {
    const before = admins
    await refusal({})
    expect(admins).toBe(before + 1)
  })

  it('plans the three topics: derived names, retention in ms, defaults applied but not checked', () => {
    const { topics, timeoutMs } = resolveViewTopicsOptions({ kafka, topic: 'invoices', partitions: 6 })
    expect(timeoutMs).toBe(30_000)
    expect(topics.map((t) => [t.role, t.name, t.numPartitions, t.replicationFactor])).toEqual([
      ['events', 'invoices', 6, -1],
      ['dead-letter', 'invoices.dlq', 1, -1],
      ['late', 'invoices.late', 1, -1],
    ])
    expect(topics[0]?.configEntries).toEqual([{ name: 'retention.ms', value: '-1' }])
    expect(topics[1]?.configEntries).toEqual([{ name: 'retention.ms', value: '604800000' }])
    expect(topics[0]?.expect).toEqual({ partitions: 6, replicationFactor: undefined, configs: {} })
    expect(topics[1]?.expect).toEqual({ partitions: undefined, replicationFactor: undefined, configs: {} })
    expect(DEFAULT_VIEW_TOPICS_OPTIONS.sideTopics).toEqual({ partitions: 1, retention: '7d' })
  })

  it('what was given is checked on existing topics; fractions of a ms round up', () => {
    const { topics } = resolveViewTopicsOptions({
      kafka,
      topic: 'invoices',
      replicationFactor: 3,
      minInsyncReplicas: 2,
      retention: 1.5,
      deadLetterTopic: 'invoices-dead',
      sideTopics: { partitions: 2, retention: Number.POSITIVE_INFINITY },
    })
    expect(topics[0]?.expect.configs).toEqual({ 'min.insync.replicas': '2', 'retention.ms': '2' })
    expect(topics[1]?.name).toBe('invoices-dead')
    expect(topics[1]?.expect).toEqual({
      partitions: 2,
      replicationFactor: 3,
      configs: { 'min.insync.replicas': '2', 'retention.ms': '-1' },
    })
  })
})
