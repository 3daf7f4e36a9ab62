/**
 * The field-kind-aware query helpers of one index (`definition.q`). Each checks at run time what
 * the types check at compile time (the field exists and is of a kind that supports the query)
 * plus what types cannot (the value fits the field, user text is a string no longer than
 * `maxQueryLength`), then returns a plain engine query. User text is plain by default: it only
 * ever becomes the value of a `match`/`multi_match` (see `query-text.ts`); `syntax: 'simple'`
 * parses the package's small syntax into `match`/`match_phrase`/`bool` clauses, never the
 * engine's `query_string`.
 */
import type { estypes } from '@elastic/elasticsearch'
import { SearchError } from '../errors.js'
import { parseSimpleQuery, type QuerySyntax, type SimpleQueryTerm } from '../query-text.js'
import type { MatchOptions, Query, QueryHelpers } from './definition-types.js'
import { checkValue, RANGE_KINDS, TERM_KINDS } from './field-kinds.js'
import type { AutocompleteFieldDef, FieldDef, FieldMap } from './fields.js'

function list(value: Query | Query[] | undefined): Query[] | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value : [value]
}

/** The query helpers of index `name` (`fieldDef` throws for an undeclared field). */
export function createQueryHelpers<F extends FieldMap>(
  name: string,
  maxQueryLength: number,
  fieldDef: (fieldName: string) => FieldDef,
): QueryHelpers<F> {
  const expectKind = (fieldName: string, allowed: (def: FieldDef) => boolean, what: string): FieldDef => {
    const def = fieldDef(fieldName)
    if (!allowed(def)) {
      throw new SearchError(
        'E_SEARCH_FIELD_KIND',
        `${what} is not allowed on field "${fieldName}" of kind ${def.kind} in index "${name}"`,
        { index: name, field: fieldName },
      )
    }
    return def
  }
  const checkText = (text: unknown, fieldName: string): string => {
    if (typeof text !== 'string') {
      throw new SearchError('E_SEARCH_INVALID_VALUE', `Search text for "${fieldName}" must be a string`, {
        index: name,
        field: fieldName,
      })
    }
    if (text.length > maxQueryLength) {
      throw new SearchError(
        'E_SEARCH_QUERY_TOO_LONG',
        `Search text for "${fieldName}" is ${text.length} characters long; the limit is ${maxQueryLength}`,
        { index: name, field: fieldName },
      )
    }
    return text
  }
  const syntaxOf = (options: MatchOptions | undefined): QuerySyntax => {
    const syntax = options?.syntax ?? 'plain'
    if (syntax !== 'plain' && syntax !== 'simple') {
      throw new SearchError(
        'E_SEARCH_INVALID_OPTION',
        `syntax must be 'plain' or 'simple', got ${String(syntax)}`,
        {
          index: name,
        },
      )
    }
    const operator = options?.operator
    if (operator !== undefined && operator !== 'and' && operator !== 'or') {
      throw new SearchError(
        'E_SEARCH_INVALID_OPTION',
        `operator must be 'and' or 'or', got ${String(operator)}`,
        {
          index: name,
        },
      )
    }
    return syntax
  }
  /**
   * The full-text query of user `text`: `words` builds the clause of bare words (with the
   * operator), `phrase` the clause of one phrase, each with an optional boost. Plain text is one
   * words clause; the simple syntax combines them in a bool (a lone clause is returned as it is,
   * so text without operators gives the same query in both modes).
   */
  const fullText = (
    text: string,
    options: MatchOptions | undefined,
    words: (text: string, operator: 'and' | 'or', boost: number | undefined) => Query,
    phrase: (text: string, boost: number | undefined) => Query,
  ): Query => {
    const operator = options?.operator ?? 'and'
    const boost = options?.boost
    // The fuzzy options are checked whatever the text holds (phrases only, or nothing).
    fuzzinessOf(options)
    if (syntaxOf(options) === 'plain') return words(text, operator, boost)
    const parsed = parseSimpleQuery(text)
    const others = parsed.anyOf.length + parsed.none.length
    if (others === 0 && parsed.phrases.length === 0 && parsed.words.length > 0)
      return words(parsed.words.join(' '), operator, boost)
    if (others === 0 && parsed.words.length === 0 && parsed.phrases.length === 1)
      return phrase(parsed.phrases[0] as string, boost)
    const term = (t: SimpleQueryTerm): Query =>
      t.kind === 'word' ? words(t.text, 'and', undefined) : phrase(t.text, undefined)
    const must: Query[] = []
    if (parsed.words.length > 0) must.push(words(parsed.words.join(' '), operator, undefined))
    for (const p of parsed.phrases) must.push(phrase(p, undefined))
    for (const group of parsed.anyOf)
      must.push({ bool: { should: group.map(term), minimum_should_match: 1 } })
    const mustNot = parsed.none.map(term)
    if (must.length === 0 && mustNot.length === 0) return { match_none: {} }
    return {
      bool: {
        ...(must.length > 0 ? { must } : {}),
        ...(mustNot.length > 0 ? { must_not: mustNot } : {}),
        ...(boost !== undefined ? { boost } : {}),
      },
    }
  }
  /** A non-negative integer option of the fuzzy expansion, at least `min`. */
  const countOption = (option: 'prefixLength' | 'maxExpansions', value: unknown, min: number): number => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new SearchError(
        'E_SEARCH_INVALID_OPTION',
        `${option} must be an integer of at least ${min}, got ${String(value)}`,
        { index: name },
      )
    }
    return value
  }
  const fuzzinessOf = (options: MatchOptions | undefined) => {
    if (options?.fuzziness === undefined) {
      const given = options?.prefixLength !== undefined ? 'prefixLength' : 'maxExpansions'
      if (options?.[given] === undefined) return {}
      throw new SearchError(
        'E_SEARCH_INVALID_OPTION',
        `${given} applies to fuzzy matching: give fuzziness too`,
        {
          index: name,
        },
      )
    }
    const { prefixLength, maxExpansions } = options
    return {
      fuzziness: options.fuzziness,
      ...(prefixLength !== undefined ? { prefix_length: countOption('prefixLength', prefixLength, 0) } : {}),
      ...(maxExpansions !== undefined
        ? { max_expansions: countOption('maxExpansions', maxExpansions, 1) }
        : {}),
    }
  }
  const boostOf = (boost: number | undefined) => (boost !== undefined ? { boost } : {})

  return {
    match(fieldName, text, options) {
      expectKind(fieldName, (d) => d.kind === 'text', 'A full-text query')
      const value = checkText(text, fieldName)
      return fullText(
        value,
        options,
        (words, operator, boost) => ({
          match: { [fieldName]: { query: words, operator, ...fuzzinessOf(options), ...boostOf(boost) } },
        }),
        (phrase, boost) => ({ match_phrase: { [fieldName]: { query: phrase, ...boostOf(boost) } } }),
      )
    },
    multiMatch(spec, text, options) {
      const entries: Array<[string, number]> = Array.isArray(spec)
        ? (spec as readonly string[]).map((f) => [f, 1])
        : Object.entries(spec as Record<string, number>)
      if (entries.length === 0) {
        throw new SearchError('E_SEARCH_INVALID_OPTION', 'multiMatch needs at least one field', {
          index: name,
        })
      }
      const list = entries.map(([f, boost]) => {
        expectKind(f, (d) => d.kind === 'text', 'A full-text query')
        if (typeof boost !== 'number' || !(boost > 0)) {
          throw new SearchError('E_SEARCH_INVALID_VALUE', `Boost of "${f}" must be a positive number`, {
            index: name,
            field: f,
          })
        }
        return boost === 1 ? f : `${f}^${boost}`
      })
      const value = checkText(text, list.join(','))
      return fullText(
        value,
        options,
        (words, operator, boost) => ({
          multi_match: {
            query: words,
            fields: list,
            type: 'best_fields',
            tie_breaker: 0.3,
            operator,
            ...fuzzinessOf(options),
            ...boostOf(boost),
          },
        }),
        (phrase, boost) => ({
          multi_match: { query: phrase, fields: list, type: 'phrase', ...boostOf(boost) },
        }),
      )
    },
    term(fieldName, value) {
      const def = expectKind(fieldName, (d) => TERM_KINDS.has(d.kind), 'A term query')
      checkValue(name, fieldName, def, value)
      return { term: { [fieldName]: { value: value as estypes.FieldValue } } }
    },
    terms(fieldName, values) {
      const def = expectKind(fieldName, (d) => TERM_KINDS.has(d.kind), 'A terms query')
      if (!Array.isArray(values)) {
        throw new SearchError('E_SEARCH_INVALID_VALUE', `terms on "${fieldName}" needs an array of values`, {
          index: name,
          field: fieldName,
        })
      }
      for (const value of values) checkValue(name, fieldName, def, value)
      return { terms: { [fieldName]: [...values] as estypes.FieldValue[] } }
    },
    range(fieldName, bounds) {
      const def = expectKind(fieldName, (d) => RANGE_KINDS.has(d.kind), 'A range query')
      const out: Record<string, unknown> = {}
      for (const key of ['gt', 'gte', 'lt', 'lte'] as const) {
        const value = bounds[key]
        if (value === undefined) continue
        checkValue(name, fieldName, def, value)
        out[key] = value
      }
      if (Object.keys(out).length === 0) {
        throw new SearchError('E_SEARCH_INVALID_VALUE', `range on "${fieldName}" needs at least one bound`, {
          index: name,
          field: fieldName,
        })
      }
      return { range: { [fieldName]: out } }
    },
    prefix(fieldName, text) {
      expectKind(fieldName, (d) => d.kind === 'identifier', 'A prefix query')
      return { match: { [`${fieldName}.prefix`]: { query: checkText(text, fieldName), operator: 'and' } } }
    },
    autocomplete(fieldName, text) {
      const def = expectKind(
        fieldName,
        (d) => d.kind === 'autocomplete' && d.strategy !== 'completion',
        'An autocomplete query (completion fields use client.suggest)',
      ) as AutocompleteFieldDef
      const query = checkText(text, fieldName)
      if (def.strategy === 'search_as_you_type') {
        return {
          multi_match: {
            query,
            type: 'bool_prefix',
            operator: 'and',
            fields: [fieldName, `${fieldName}._2gram`, `${fieldName}._3gram`],
          },
        }
      }
      return { match: { [fieldName]: { query, operator: 'and' } } }
    },
    exists(fieldName) {
      fieldDef(fieldName)
      return { exists: { field: fieldName } }
    },
    bool(clauses) {
      const bool: estypes.QueryDslBoolQuery = {}
      const must = list(clauses.must)
      const filter = list(clauses.filter)
      const should = list(clauses.should)
      const mustNot = list(clauses.mustNot)
      if (must) bool.must = must
      if (filter) bool.filter = filter
      if (should) bool.should = should
      if (mustNot) bool.must_not = mustNot
      if (clauses.minimumShouldMatch !== undefined) bool.minimum_should_match = clauses.minimumShouldMatch
      return { bool }
    },
  }
}
