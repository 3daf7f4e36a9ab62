import { randomBytes } from 'node:crypto'

/**
 * A name no other test run uses: `<prefix>-<12 hex chars>`. Use it for Redis key prefixes,
 * index names and topics so that tests never collide on a shared server and never need a flush.
 */
export function uniqueName(prefix = 't'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`
}
