/**
 * The application's own connections, as Nest providers of a global module: the database (Prisma
 * and its pool), the Kafka client and the invoice-event producer. The SDK modules take them
 * through `forRootAsync({ inject })`; each is closed at shutdown after the HTTP server stopped.
 */
import { createEventProducer, type EventProducer } from '@ayala/metrics-stream'
import type { Duration } from '@ayala/search'
import { type DynamicModule, Global, Module, type OnApplicationShutdown } from '@nestjs/common'
import { Kafka, logLevel, type Producer } from 'kafkajs'
import type { ResourceNames, ServiceAddresses } from './config.ts'
import { type Database, openDatabase } from './database/connection.ts'
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
}

/** Token of the {@link AppSettings}. */
export const SETTINGS = Symbol('invoicing:settings')
/** Token of the {@link Database} (Prisma and the pools). */
export const DATABASE = Symbol('invoicing:database')
/** Token of the kafkajs client. */
export const KAFKA = Symbol('invoicing:kafka')
/** Token of the {@link InvoiceEvents} producer. */
export const INVOICE_EVENTS = Symbol('invoicing:invoice-events')

/** The Kafka client of the application. */
export function kafkaClient(addresses: ServiceAddresses, clientId = 'ayala-invoicing'): Kafka {
  return new Kafka({ clientId, brokers: addresses.kafkaBrokers, logLevel: logLevel.NOTHING })
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
  /** The underlying kafkajs producer. */
  readonly producer: Producer
}

/** Connect an idempotent producer (the topic is created if missing). */
export async function connectInvoiceEvents(kafka: Kafka, topic: string): Promise<InvoiceEvents> {
  await ensureTopic(kafka, topic)
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const events = createEventProducer<InvoiceEvent>({ producer, topic, key: (e) => e.invoiceId })
  return { producer, send: (list) => events.send(list) }
}

class Connections implements OnApplicationShutdown {
  constructor(
    private readonly database: Database,
    private readonly events: InvoiceEvents,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.events.producer.disconnect()
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
        { provide: DATABASE, useFactory: () => openDatabase(settings.addresses.databaseUrl) },
        { provide: KAFKA, useFactory: () => kafkaClient(settings.addresses) },
        {
          provide: INVOICE_EVENTS,
          useFactory: (kafka: Kafka) => connectInvoiceEvents(kafka, settings.names.topic),
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
