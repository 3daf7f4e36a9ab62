/**
 * A small parser of the Prometheus text exposition format (0.0.4): enough to read the samples
 * `GET /metrics` serves (name, labels, value), and to fail on a malformed line.
 */

/** One sample. */
export interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/y

function parseValue(raw: string, line: string): number {
  if (raw === '+Inf') return Number.POSITIVE_INFINITY
  if (raw === '-Inf') return Number.NEGATIVE_INFINITY
  if (raw === 'NaN') return Number.NaN
  const value = Number(raw)
  if (Number.isNaN(value)) throw new Error(`metrics: bad value in "${line}"`)
  return value
}

/** Parse an exposition; throws on a line that is neither a comment nor a sample. */
export function parsePrometheusText(text: string): PromSample[] {
  const samples: PromSample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = SAMPLE.exec(line)
    if (match === null) throw new Error(`metrics: cannot parse "${line}"`)
    const labels: Record<string, string> = {}
    const body = match[2] ?? ''
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body)
      if (label === null) throw new Error(`metrics: bad labels in "${line}"`)
      labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, c: string) =>
        c === 'n' ? '\n' : c,
      )
    }
    samples.push({ name: match[1] as string, labels, value: parseValue(match[3] as string, line) })
  }
  return samples
}
