/**
 * An index creation the engine refused for want of an analysis module, told as what to do.
 *
 * The engine names only the first component it did not know (`Unknown filter type [asciifolding]
 * for [ayala_folding]`, `Custom Analyzer [ayala_folded] failed to find filter under name
 * [asciifolding]`, `failed to find tokenizer under name [keyword]`, `The mapper type
 * [scaled_float] declared on field [total] does not exist`, or `No handler for type [...]` on
 * older engines and OpenSearch), and fixing that field alone only moves the refusal to the next
 * one. So the component is looked up in the presets' table (`schema/analysis.ts`) to find its
 * module, and every field of the definition that needs that module is named at once, with the
 * declaration that does without it. A refusal naming a component the presets do not use stays
 * the plain engine error.
 */
import { AnalysisMissingError, type SearchError } from '../errors.js'
import { ANALYSIS_COMPONENTS, type AnalysisModule, fieldsNeeding } from '../schema/analysis.js'
import type { FieldMap } from '../schema/fields.js'
import type { EngineKind } from './adapters.js'
import { engineError, engineReasons } from './engine-error.js'

const PATTERNS: ReadonlyArray<{ pattern: RegExp; kind: (match: RegExpExecArray) => string }> = [
  { pattern: /Unknown (filter|tokenizer|char_filter) type \[([^\]]+)\]/, kind: (m) => `${m[1]}:${m[2]}` },
  {
    pattern: /failed to find (filter|tokenizer|char_filter) under name \[([^\]]+)\]/,
    kind: (m) => `${m[1]}:${m[2]}`,
  },
  {
    pattern: /mapper type \[([^\]]+)\] declared on field \[[^\]]*\] does not exist/,
    kind: (m) => `type:${m[1]}`,
  },
  { pattern: /No handler for type \[([^\]]+)\] declared on field/, kind: (m) => `type:${m[1]}` },
]

const ENGINE_NAMES: Readonly<Record<EngineKind, string>> = {
  elasticsearch: 'Elasticsearch',
  opensearch: 'OpenSearch',
}

/** The missing component and its module, when a reason of `error` names one the presets use. */
export function missingComponent(
  error: unknown,
): { key: string; module: AnalysisModule; reason: string } | undefined {
  for (const reason of engineReasons(error)) {
    for (const { pattern, kind } of PATTERNS) {
      const match = pattern.exec(reason)
      if (match === null) continue
      const key = kind(match)
      const module = ANALYSIS_COMPONENTS[key]
      if (module !== undefined) return { key, module, reason }
    }
  }
  return undefined
}

/**
 * The error of a refused index (or index template) creation: an {@link AnalysisMissingError}
 * when the engine lacks a module the definition needs (see the module note), else
 * {@link engineError}'s.
 */
export function indexCreationError(
  error: unknown,
  index: string,
  fields: FieldMap,
  engine?: EngineKind | undefined,
): SearchError {
  const missing = missingComponent(error)
  if (missing === undefined) return engineError(error, index)
  const [kind, name] = missing.key.split(':') as [string, string]
  const component = kind === 'type' ? `field type ${name}` : `${kind.replace('_', ' ')} ${name}`
  const needs = fieldsNeeding(fields, missing.module)
  const node = engine === undefined ? 'The search engine node' : `This ${ENGINE_NAMES[engine]} node`
  const what = needs.map((n) =>
    n.instead === undefined
      ? `${n.field}: ${n.declared} has no form without ${missing.module}, leave it out on this node`
      : `${n.field}: ${n.declared} -> ${n.instead}`,
  )
  const message =
    `Index ${index} cannot be created: ${node} has no ${component} (${missing.reason}), which comes from the ${missing.module} module. ` +
    `Every official Elasticsearch and OpenSearch distribution (archives, packages, Docker images) includes it; a node started from the server jars alone lacks it. ` +
    `Run a full distribution, or declare ${needs.length === 1 ? 'this field' : 'these fields'} without it: ${what.join('; ')}.`
  return new AnalysisMissingError(message, {
    index,
    status: 400,
    module: missing.module,
    component,
    fields: needs,
    cause: error,
  })
}
