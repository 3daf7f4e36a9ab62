import { createMetricsConsumer, kafkaSource } from '../src/index.js'
import { FAST_GROUP, World } from './integration/harness.js'
import { generateEvents, type InvoiceEvent, invoiceView } from './invoices.js'

const world = await new World(4).init()
const events = generateEvents(40_000, 5)
await world.produce(events)
console.log('produced', events.length)
const consumer = createMetricsConsumer<InvoiceEvent>({
  redis: world.redis,
  namespace: world.namespace,
  view: invoiceView,
  chunkSize: 500,
  source: kafkaSource({
    kafka: world.kafka,
    groupId: `${world.namespace}-g`,
    topics: [world.topic],
    consumer: FAST_GROUP,
  }),
})
let first = 0
await new Promise<void>((resolve) => {
  consumer.on('applied', () => {
    if (first === 0) first = performance.now()
    if (consumer.stats().applied >= events.length) resolve()
  })
  void consumer.start()
})
const s = consumer.stats()
console.log(
  'events/s',
  (s.applied / ((performance.now() - first) / 1000)).toFixed(0),
  'script ms total',
  s.scriptMsTotal.toFixed(0),
  'chunks',
  s.chunks,
)
await world.dispose()
process.exit(0)
