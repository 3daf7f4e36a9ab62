/**
 * A small parser of the Prometheus text exposition format (version 0.0.4), so tests read
 * metrics as data instead of matching strings: `# HELP` / `# TYPE` lines, samples with labels
 * (escaped `\\`, `\"`, `\n` in values) and values including `+Inf`, `-Inf` and `NaN`.
 */

/** One sample line: `name{label="value",...} value`. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** A metric family: its `# TYPE`, `# HELP` and samples (suffixed `_bucket`/`_sum`/`_count` included). */
export interface MetricFamily {
  name: string
  type: string
  help: string
  samples: Sample[]
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  if (text === 'NaN') return Number.NaN
  const value = Number(text)
  if (text === '' || Number.isNaN(value)) throw new Error(`not a sample value: ${JSON.stringify(text)}`)
  return value
}

function parseLabels(text: string, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {}
  let i = 0
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) }
    const eq = text.indexOf('=', i)
    if (eq < 0 || text[eq + 1] !== '"') throw new Error(`bad labels in line: ${line}`)
    const name = text.slice(i, eq).trim()
    let value = ''
    let j = eq + 2
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        j++
        value += text[j] === 'n' ? '\n' : (text[j] ?? '')
      } else value += text[j]
    }
    if (j >= text.length) throw new Error(`unterminated label value in line: ${line}`)
    labels[name] = value
    i = j + 1
  }
}

/** Parse an exposition text into metric families keyed by family name. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>()
  const family = (name: string): MetricFamily => {
    let found = families.get(name)
    if (!found) {
      found = { name, type: 'untyped', help: '', samples: [] }
      families.set(name, found)
    }
    return found
  }
  let current: MetricFamily | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    if (line.startsWith('#')) {
      const match = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s?(.*)$/.exec(line)
      if (!match) continue
      current = family(match[2] as string)
      if (match[1] === 'TYPE') current.type = match[3] as string
      else current.help = match[3] as string
      continue
    }
    const nameMatch = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(line)
    if (!nameMatch) throw new Error(`bad sample line: ${line}`)
    const name = nameMatch[1] as string
    let rest = nameMatch[2] as string
    let labels: Record<string, string> = {}
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest.slice(1), line))
    const [valueText] = rest.trim().split(/\s+/)
    const owner =
      current && (name === current.name || /^(.*)_(bucket|sum|count|total)$/.exec(name)?.[1] === current.name)
        ? current
        : family(name)
    owner.samples.push({ name, labels, value: parseValue(valueText ?? '') })
  }
  return families
}

/** The samples of `family` named `name` whose labels include `labels`. */
export function samples(
  families: Map<string, MetricFamily>,
  family: string,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  const found = families.get(family)
  if (!found) throw new Error(`no metric family ${family}; have ${[...families.keys()].join(', ')}`)
  return found.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )
}

/** The single sample matching, or a thrown error naming what was there. */
export function sampleValue(
  families: Map<string, MetricFamily>,
  family: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = samples(families, family, name, labels)
  if (found.length !== 1) {
    throw new Error(`expected one ${name} ${JSON.stringify(labels)}, found ${found.length}`)
  }
  return (found[0] as Sample).value
}
