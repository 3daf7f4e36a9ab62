/**
 * A refused login on a connection made through Sentinel names the primary's group and its
 * Sentinels, not the URL's host (which ioredis does not use then), and never the password.
 */

import { describeRedisFailure } from '@ayala/internal'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'

describe('describeRedisFailure through Sentinel', () => {
  const clients: Redis[] = []
  afterAll(() => {
    for (const client of clients) client.disconnect()
  })

  it('names the Sentinel group and the user, never the password', () => {
    const client = new Redis('redis://app:s3cr3t@unused-host:6390/0', {
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
      ],
      name: 'mymaster',
      lazyConnect: true,
    })
    clients.push(client)
    const error = new Error('WRONGPASS invalid username-password pair or user is disabled.')
    const message = describeRedisFailure(client, 'Redis', error)
    expect(message).toBe(
      'Redis at primary "mymaster" of Sentinels 10.0.0.1:26379,10.0.0.2:26380 rejected the credentials of user "app" (WRONGPASS invalid username-password pair or user is disabled.)',
    )
    expect(message).not.toContain('s3cr3t')
    expect(message).not.toContain('unused-host')
  })

  it('a direct connection is still named by its host and port', () => {
    const client = new Redis('redis://app:s3cr3t@10.0.0.9:6390/0', { lazyConnect: true })
    clients.push(client)
    const message = describeRedisFailure(
      client,
      'Redis',
      new Error('WRONGPASS invalid username-password pair'),
    )
    expect(message).toMatch(/^Redis at 10\.0\.0\.9:6390 rejected the credentials of user "app"/)
  })
})
