/**
 * Kafka health: the admin client's `describeCluster()` with a deadline. One admin connection
 * per `Kafka` instance is kept between checks (connecting costs a round trip per broker) with no
 * retries of its own, and is dropped after a failure so the next check reconnects. A refused
 * SASL login is down with `Kafka refused the SASL credentials (...)` (kafkajs's reason: the
 * mechanism, never the password): one login attempt per check, no retry loop.
 */

import { kafkaAuthFailure, redactText } from '@ayala/internal'
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common'
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus'
import type { Admin, Kafka } from 'kafkajs'
import { type Duration, toMilliseconds } from '../duration.js'
import { HealthCheckFailedError } from '../errors.js'
import { attempt } from './attempt.js'

/** Options of {@link KafkaHealthIndicator.check}. */
export interface KafkaHealthOptions {
  /** The kafkajs `Kafka` instance (its brokers and settings are used). */
  kafka: Kafka
  /** Deadline of the check. @default '3s' */
  timeout?: Duration | undefined
  /** Down when fewer brokers than this are in the cluster. @default 1 */
  minBrokers?: number | undefined
}

/** Partition lag as reported by `@ayala/metrics-stream`'s consumer `lag()`. */
export interface PartitionLagLike {
  topic: string
  partition: number
  lag: number
}

/** Options of {@link KafkaHealthIndicator.lagCheck}. */
export interface ConsumerLagOptions {
  /** The consumer, e.g. `@ayala/metrics-stream`'s `MetricsConsumer`. */
  consumer: { lag(): Promise<readonly PartitionLagLike[]> }
  /** Down when any partition lags by more than this many records. */
  maxLag: number
  /** Deadline of the check. @default '3s' */
  timeout?: Duration | undefined
}

/** Terminus health indicator for Kafka and for a consumer's lag. */
@Injectable()
export class KafkaHealthIndicator implements OnModuleDestroy {
  private readonly admins = new Map<Kafka, Promise<Admin>>()

  constructor(@Inject(HealthIndicatorService) private readonly health: HealthIndicatorService) {}

  /** Describe the cluster; down when it does not answer in time or has too few brokers. */
  check<const Key extends string>(
    key: Key,
    options: KafkaHealthOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    const timeoutMs = toMilliseconds(options.timeout ?? '3s', 'timeout')
    const minBrokers = options.minBrokers ?? 1
    return attempt(
      this.health,
      key,
      async () => {
        try {
          const admin = await this.admin(options.kafka)
          const cluster = await admin.describeCluster()
          if (cluster.brokers.length < minBrokers) {
            throw new HealthCheckFailedError(
              key,
              `${cluster.brokers.length} brokers, expected at least ${minBrokers}`,
            )
          }
          return { brokers: cluster.brokers.length, controller: cluster.controller }
        } catch (error) {
          await this.drop(options.kafka)
          // One clear line for refused credentials (kafkajs's reason names the mechanism).
          if (kafkaAuthFailure(error))
            throw new HealthCheckFailedError(
              key,
              `Kafka refused the SASL credentials (${redactText(error instanceof Error ? error.message : String(error))})`,
              error,
            )
          throw error
        }
      },
      timeoutMs,
    )
  }

  /** Down when a partition's lag (records written and not yet applied) exceeds `maxLag`. */
  lagCheck<const Key extends string>(
    key: Key,
    options: ConsumerLagOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    const timeoutMs = toMilliseconds(options.timeout ?? '3s', 'timeout')
    return attempt(
      this.health,
      key,
      async () => {
        const partitions = await options.consumer.lag()
        let total = 0
        let worst: PartitionLagLike | undefined
        for (const partition of partitions) {
          total += partition.lag
          if (worst === undefined || partition.lag > worst.lag) worst = partition
        }
        const data = { totalLag: total, maxPartitionLag: worst?.lag ?? 0, partitions: partitions.length }
        if (worst !== undefined && worst.lag > options.maxLag) {
          throw new HealthCheckFailedError(
            key,
            `partition ${worst.topic}/${worst.partition} lags by ${worst.lag} records (max ${options.maxLag})`,
          )
        }
        return data
      },
      timeoutMs,
    )
  }

  /** Disconnect the admin clients. */
  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.admins.keys()].map((kafka) => this.drop(kafka)))
  }

  private admin(kafka: Kafka): Promise<Admin> {
    let admin = this.admins.get(kafka)
    if (admin === undefined) {
      const created = kafka.admin({ retry: { retries: 0 } })
      admin = created.connect().then(() => created)
      this.admins.set(kafka, admin)
    }
    return admin
  }

  private async drop(kafka: Kafka): Promise<void> {
    const admin = this.admins.get(kafka)
    if (admin === undefined) return
    this.admins.delete(kafka)
    // A failed connect leaves nothing to disconnect; the connect error was already reported.
    const connected = await admin.catch(() => undefined)
    await connected?.disconnect()
  }
}
