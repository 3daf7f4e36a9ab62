/**
 * The subscription to the view's change channel, which keeps the in-process copy coherent
 * (`copy.ts`) and wakes subscribers (`subscribe.ts`).
 *
 * Every applied chunk publishes `<version> <generation> <topic> <partition> <offset>
 * <oldest event ms>` atomically with its writes; a notice empties the copy and raises the newest
 * version seen. A notice about the view itself (topic `-`: a promotion, or the status notices the
 * consumer publishes when a rebuild starts and ends, `<version> <generation> - -1 <status> 0`)
 * resets the newest version seen: when Redis lost the view's state, versions start again from 0
 * in a new epoch, and the copy keeps working after the loss.
 *
 * A lost link (error, close, reconnecting) empties the copy and turns it off until the
 * subscription is confirmed again, and wakes subscribers to re-read. A link that stops answering
 * without closing (a hung server, a blackholed route) would keep the copy "current" forever: a
 * PING every `heartbeatInterval`, bounded by the deadline, notices it; the copy is then turned
 * off exactly as for a closed connection and the dashboard's own subscriber connection is
 * reconnected in the background (a borrowed one is left to its owner).
 */

import { scrubRedisErrors } from '@ayala/internal'
import type { Cluster, Redis } from 'ioredis'
import { MetricsStreamError } from '../errors.js'
import type { ViewStatus } from '../health/view-state.js'
import { viewKeys } from '../keys.js'
import { clearCache } from './copy.js'
import type { ChangeNotice } from './snapshot.js'
import type { DashboardState } from './state.js'

const STATUSES = new Set<string>(['live', 'rebuilding', 'incomplete', 'missing'])

/** Parse a change notice published by the apply script. */
export function parseNotice(message: string): ChangeNotice | undefined {
  const parts = message.split(' ')
  if (parts.length !== 6) return undefined
  const notice: ChangeNotice = {
    version: Number(parts[0]),
    generation: Number(parts[1]),
    topic: parts[2] as string,
    partition: Number(parts[3]),
    offset: parts[4] as string,
    oldestEventAt: Number(parts[5]),
  }
  if (notice.topic === '-' && STATUSES.has(notice.offset)) notice.status = notice.offset as ViewStatus
  return notice
}

/** Subscribe to the view's change channel (once; a failed SUBSCRIBE may be tried again). @internal */
export function listen(state: DashboardState<any>): Promise<void> {
  if (state.subscribing) return state.subscribing
  const channel = viewKeys(state.namespace, state.view.name, 1).channel
  const subscriber = state.subscriber ?? state.redis.duplicate()
  scrubRedisErrors(subscriber)
  state.subscriber = subscriber
  if (!state.attached) attach(state, subscriber, channel)
  state.subscribing = subscriber.subscribe(channel).then(
    () => {
      if (state.closed || state.subscribed) return
      // Subscribers that read before the subscription existed may have missed a change.
      regainLink(state)
    },
    (error: unknown) => {
      state.subscribing = undefined
      throw new MetricsStreamError('E_STREAM_REDIS', 'Subscribing to change notices failed', {
        view: state.view.name,
        retriable: true,
        cause: error,
      })
    },
  )
  return state.subscribing
}

/** Attach the subscriber's listeners (once per dashboard) and start the heartbeat. */
function attach(state: DashboardState<any>, subscriber: Redis | Cluster, channel: string): void {
  state.attached = true
  const drop = () => loseLink(state)
  subscriber.on('message', (from: string, message: string) => {
    if (from === channel) onNotice(state, message)
  })
  // The subscriber reconnects by itself; its connection errors are counted (`stats()`), and
  // while it is down the cache is off, so no stale figure can be served as current.
  subscriber.on('error', () => {
    state.subscriberErrors++
    drop()
  })
  subscriber.on('close', drop)
  subscriber.on('reconnecting', drop)
  subscriber.on('ready', () => {
    if (state.subscribed || state.closed) return
    // ioredis resubscribes on its own after a reconnect; confirm it, then resync every
    // subscriber since notices may have been missed while the connection was down.
    subscriber.subscribe(channel).then(() => {
      if (!state.subscribed && !state.closed) regainLink(state)
    }, drop)
  })
  // A Cluster's subscriber is one of its nodes' connections, not a client of its own to PING.
  const cluster = typeof (subscriber as Cluster).nodes === 'function'
  if (state.heartbeatMs > 0 && !cluster) {
    // Allocated once here, not per beat.
    const answered = () => onPingAnswered(state)
    const silent = () => onPingSilent(state)
    /** One heartbeat: PING the subscriber connection within the read deadline. */
    const beat = (): void => {
      const connection = state.subscriber as Redis | undefined
      // A connection that is not ready is already known down (its events turned the copy off).
      if (connection === undefined || state.closed || state.pinging || connection.status !== 'ready') return
      state.pinging = true
      state.deadlines.bound(connection.ping(), state.timeoutMs).then(answered, silent)
    }
    state.heartbeat = setInterval(beat, state.heartbeatMs)
    state.heartbeat.unref?.()
  }
}

function onPingAnswered(state: DashboardState<any>): void {
  state.pinging = false
  if (state.linkLost && !state.closed) regainLink(state)
}

function onPingSilent(state: DashboardState<any>): void {
  state.pinging = false
  if (state.closed) return
  state.subscriberErrors++
  if (!state.linkLost) {
    state.linkLost = true
    loseLink(state)
  }
  // Our own connection is reconnected in the background (a route that dropped packets may
  // never close it); a borrowed one is left to its owner, and answers again when it heals.
  if (state.ownsSubscriber) (state.subscriber as Redis | undefined)?.disconnect(true)
}

/** The subscriber link is lost or silent: no copy, no caching of reads in flight, wake subscribers. */
function loseLink(state: DashboardState<any>): void {
  const was = state.subscribed
  state.subscribed = false
  clearCache(state)
  if (!was) return
  state.resets++
  for (const waiter of state.waiters) waiter('link')
}

/** The subscriber link answers again: notices may have been missed meanwhile. */
function regainLink(state: DashboardState<any>): void {
  state.linkLost = false
  state.resets++
  state.subscribed = true
  for (const waiter of state.waiters) waiter('resync')
}

function onNotice(state: DashboardState<any>, message: string): void {
  const notice = parseNotice(message)
  if (!notice) return
  if (notice.topic === '-') {
    // About the view itself (a promotion, a rebuild starting or ending): its version is the
    // state's current one, lower than the newest seen when the state was rebuilt after a loss.
    state.resets++
    state.generation = notice.generation
    state.noticed = notice.version
  } else if (notice.generation !== state.generation) {
    state.generation = notice.generation
    state.noticed = notice.version
  } else if (notice.version > state.noticed) {
    state.noticed = notice.version
  }
  clearCache(state)
  for (const listener of state.listeners) listener(notice)
  for (const waiter of state.waiters) waiter('notice')
}
