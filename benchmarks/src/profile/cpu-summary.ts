/**
 * Diagnostic: self time per function (top 25) of a `.cpuprofile` written by `node --cpu-prof`.
 * `tsx src/profile/cpu-summary.ts <file.cpuprofile> [top]`
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const file = process.argv[2]
if (!file) throw new Error('usage: cpu-summary.ts <file.cpuprofile> [top]')
const top = Number(process.argv[3] ?? 25)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const self = new Map<string, number>()
let total = 0
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i] as number)
  const delta = profile.timeDeltas[i] ?? 0
  if (!node) continue
  const frame = node.callFrame
  const where = frame.url
    .replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '')
    .replace(/^file:\/\/.*\/packages\//, 'packages/')
  const name = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`
  self.set(name, (self.get(name) ?? 0) + delta)
  total += delta
}
const idle = [...self.entries()].filter(([name]) => name.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0)
console.log(
  `total ${(total / 1e3).toFixed(0)} ms, idle ${(idle / 1e3).toFixed(0)} ms, busy ${((total - idle) / 1e3).toFixed(0)} ms`,
)
for (const [name, micros] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(
    `${((100 * micros) / (total - idle || 1)).toFixed(1).padStart(5)}%  ${(micros / 1e3).toFixed(0).padStart(6)} ms  ${name}`,
  )
}
