/**
 * Scenario: encoding + decoding one ~600-byte invoice, msgpack (the cache's L2 codec) against
 * JSON. JSON is the baseline because it is what most peers use - and it loses Dates, Maps,
 * BigInts and Buffers, which the msgpack codec keeps.
 */
import { msgpackCodec } from '@ayala/cache'
import { Bench } from 'tinybench'
import { benchOptions, rows, type ScenarioResult, writeResult } from '../report.js'

/** Run the scenario (see the module note) and write its results. */
export async function run(): Promise<ScenarioResult> {
  const invoice = {
    id: 42,
    number: 'FAC-2026-000042',
    client: { id: 7, name: 'Electrónica Pequeño S.L.', taxId: 'B12345678' },
    issuedAt: new Date('2026-11-27T10:00:00Z'),
    status: 'paid',
    currency: 'EUR',
    lines: Array.from({ length: 5 }, (_, i) => ({
      sku: `SKU-${i}`,
      description: `Servicio de mantenimiento ${i}`,
      quantity: i + 1,
      unitPriceCents: 1999 * (i + 1),
    })),
    totalCents: 89_955,
  }
  const codec = msgpackCodec()
  const bench = new Bench(benchOptions())
  bench
    .add('JSON stringify + parse', () => {
      JSON.parse(JSON.stringify(invoice))
    })
    .add('@ayala/cache msgpack encode + decode', () => {
      codec.decode(codec.encode(invoice))
    })
  await bench.run()
  return writeResult(
    'codec',
    'Codec: encode + decode one invoice',
    rows(bench, 'JSON stringify + parse'),
    'JSON stringify + parse',
  )
}
