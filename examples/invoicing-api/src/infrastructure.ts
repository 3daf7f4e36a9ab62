/**
 * The application's own connections, as Nest providers of a global module: the database (Prisma
 * and its pool), the Kafka client and the invoice-event producer. The SDK modules take them
 * through `forRootAsync({ inject })`; each is closed at shutdown after the HTTP server stopped.
 */
import { createEventProducer, type EventProducer } from '@ayala/metrics-stream'
import type { Duration } from '@ayala/search'
import { type DynamicModule, Global, Logger, Module, type OnApplicationShutdown } from '@nestjs/common'
import { Kafka, logLevel, type Producer, type SASLOptions } from 'kafkajs'
import type { DashboardSource, ResourceNames, ServiceAddresses } from './config.ts'
import { APP_POOL_TIMEOUTS, type Database, openDatabase } from './database/connection.ts'
import type { InvoiceEvent } from './invoices/invoice-events.ts'

/** Addresses and resource names. */
export interface AppSettings {
  addresses: ServiceAddresses
  names: ResourceNames
  /** Requests slower than this are logged and counted (ms). @default 200 */
  slowThresholdMs?: number | undefined
  /**
   * This instance's stable name (its outbox relay id): give each instance its own, the same after
   * a restart. @default a random one
   */
  instanceId?: string | undefined
  /** How often the search index is compared with the table and repaired. @default '10m' */
  reconcileInterval?: Duration | undefined
  /**
   * Run the dashboard's aggregator (the Kafka consumer in the group) in this instance. `false`:
   * the instance serves the dashboard from Redis and another instance aggregates (e.g. three API
   * instances, two of them consuming). @default true
   */
  aggregator?: boolean | undefined
  /**
   * Where the dashboard's figures come from (see `DashboardSource` in `config.ts`): `flink` reads
   * the Flink job's changelog topics for the figures it computes. @default 'embedded'
   */
  dashboardSource?: DashboardSource | undefined
}

/** Token of the {@link AppSettings}. */
export const SETTINGS = Symbol('invoicing:settings')
/** Token of the {@link Database} (Prisma and the pools). */
export const DATABASE = Symbol('invoicing:database')
/** Token of the kafkajs client. */
export const KAFKA = Symbol('invoicing:kafka')
/** Token of the {@link InvoiceEvents} producer. */
export const INVOICE_EVENTS = Symbol('invoicing:invoice-events')

/**
 * The Kafka client of the application: its brokers, SASL login and TLS from the addresses. The
 * `sasl` object is built fresh for each client: kafkajs stores its authenticator (which holds the
 * password) in the object it is given.
 */
export function kafkaClient(addresses: ServiceAddresses, clientId = 'ayala-invoicing'): Kafka {
  const { kafkaSasl, kafkaSsl } = addresses
  return new Kafka({
    clientId,
    brokers: addresses.kafkaBrokers,
    logLevel: logLevel.NOTHING,
    ...(kafkaSsl === undefined ? {} : { ssl: kafkaSsl === true ? true : { ca: [kafkaSsl.ca] } }),
    ...(kafkaSasl === undefined ? {} : { sasl: { ...kafkaSasl } as SASLOptions }),
  })
}

/** Where the application's Kafka is and as whom it logs in, for messages (never the password). */
export function describeKafka(addresses: ServiceAddresses): string {
  const who = addresses.kafkaSasl
    ? ` as user "${addresses.kafkaSasl.username}" (${addresses.kafkaSasl.mechanism.toUpperCase()})`
    : ''
  return `Kafka at ${addresses.kafkaBrokers.join(',')}${addresses.kafkaSsl ? ' (TLS)' : ''}${who}`
}

/** Create the events topic if missing (3 partitions: the key is the invoice id). */
export async function ensureTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const topics = await admin.listTopics()
    if (!topics.includes(topic)) {
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })
    }
  } finally {
    await admin.disconnect()
  }
}

/** The invoice-event producer over an idempotent kafkajs producer. */
export interface InvoiceEvents extends EventProducer<InvoiceEvent> {
  /** The underlying kafkajs producer (connected, or being connected in the background). */
  readonly producer: Producer
  /** Stop the background connection attempts and disconnect. */
  close(): Promise<void>
}

/** Connect an idempotent producer now, the topic created if missing (the seed's way: fail fast). */
export async function openInvoiceEvents(kafka: Kafka, topic: string): Promise<InvoiceEvents> {
  await ensureTopic(kafka, topic)
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  await producer.connect()
  const events = createEventProducer<InvoiceEvent>({ producer, topic, key: (e) => e.invoiceId })
  return { producer, send: (list) => events.send(list), close: () => producer.disconnect() }
}

/**
 * The application's producer (the topic is created if missing). Kafka down or refusing the
 * credentials at start-up does not fail the application: one warning naming the brokers and the
 * user, then the topic and the connection are retried in the background (1 s doubling to 30 s);
 * meanwhile the outbox keeps the events (its Kafka sink connects the producer when it can), and
 * `/health` reports Kafka down. The producer never creates topics itself, so a send racing the
 * background `ensureTopic` cannot create the topic with the broker's default partition count.
 */
export async function connectInvoiceEvents(
  kafka: Kafka,
  topic: string,
  describe = 'Kafka',
): Promise<InvoiceEvents> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  const events = createEventProducer<InvoiceEvent>({ producer, topic, key: (e) => e.invoiceId })
  const ready = async () => {
    await ensureTopic(kafka, topic)
    await producer.connect()
  }
  let closed = false
  let timer: NodeJS.Timeout | undefined
  try {
    await ready()
  } catch (error) {
    const logger = new Logger('InvoiceEvents')
    logger.warn(
      `${describe} could not be reached at start-up (${errorText(error)}); retrying in the background, /health reports it meanwhile`,
    )
    let delay = 1_000
    const retry = () => {
      timer = setTimeout(() => {
        if (closed) return
        ready().then(
          () => logger.log(`${describe} reached: topic ${topic} ready, producer connected`),
          () => {
            delay = Math.min(delay * 2, 30_000)
            if (!closed) retry()
          },
        )
      }, delay).unref()
    }
    retry()
  }
  return {
    producer,
    send: (list) => events.send(list),
    async close() {
      closed = true
      clearTimeout(timer)
      await producer.disconnect()
    },
  }
}

/** A thrown value's text for a log line: kafkajs's messages carry no password. */
function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

class Connections implements OnApplicationShutdown {
  constructor(
    private readonly database: Database,
    private readonly events: InvoiceEvents,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.events.close()
    await this.database.close()
  }
}

/** Global module of the settings and connections. */
@Global()
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class InfrastructureModule {
  /** Register with the application's settings. */
  static forRoot(settings: AppSettings): DynamicModule {
    return {
      module: InfrastructureModule,
      providers: [
        { provide: SETTINGS, useValue: settings },
        {
          provide: DATABASE,
          useFactory: () => openDatabase(settings.addresses.databaseUrl, undefined, APP_POOL_TIMEOUTS),
        },
        { provide: KAFKA, useFactory: () => kafkaClient(settings.addresses) },
        {
          provide: INVOICE_EVENTS,
          useFactory: (kafka: Kafka) =>
            connectInvoiceEvents(kafka, settings.names.topic, describeKafka(settings.addresses)),
          inject: [KAFKA],
        },
        {
          provide: Connections,
          useFactory: (database: Database, events: InvoiceEvents) => new Connections(database, events),
          inject: [DATABASE, INVOICE_EVENTS],
        },
      ],
      exports: [SETTINGS, DATABASE, KAFKA, INVOICE_EVENTS],
    }
  }
}
