/**
 * Where a heap's bytes go: `tsx src/profile/heap-summary.ts <a.heapsnapshot> [<b.heapsnapshot>]`
 * prints the self size and count per (node type, constructor name), largest first; with two
 * snapshots, the difference b - a. Snapshots come from `MEMORY_BENCH_SNAPSHOT_DIR=<dir> pnpm bench
 * memory-l1` (one per measurement, taken after the entries are in).
 */
import { readFileSync } from 'node:fs'

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

/** Self size and count per `type name`. */
export function summarize(file: string): Map<string, { size: number; count: number }> {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = data.snapshot.meta.node_fields
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const types = data.snapshot.meta.node_types[0]
  const out = new Map<string, { size: number; count: number }>()
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt] as number] ?? '?'
    // Strings and numbers are grouped by type alone (their "name" is their content).
    const name =
      type === 'object' || type === 'closure' ? (data.strings[data.nodes[i + nameAt] as number] ?? '?') : ''
    const key = `${type} ${name}`.trim()
    const entry = out.get(key) ?? { size: 0, count: 0 }
    entry.size += data.nodes[i + sizeAt] as number
    entry.count++
    out.set(key, entry)
  }
  return out
}

const [a, b] = process.argv.slice(2)
if (a) {
  const first = summarize(a)
  const rows = b
    ? [...summarize(b)].map(([key, v]) => {
        const base = first.get(key) ?? { size: 0, count: 0 }
        return [key, v.size - base.size, v.count - base.count] as const
      })
    : [...first].map(([key, v]) => [key, v.size, v.count] as const)
  rows.sort((x, y) => y[1] - x[1])
  console.log('| type and constructor | self size (MB) | count |\n|---|---:|---:|')
  for (const [key, size, count] of rows.slice(0, 25))
    console.log(`| ${key} | ${(size / 1024 / 1024).toFixed(2)} | ${count.toLocaleString('en')} |`)
}
