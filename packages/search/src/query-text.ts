/**
 * What user search text means: one documented behaviour, the same on both engines.
 *
 * **Plain text (the default of every helper).** User text reaches the engine only as the value
 * of a `match`/`multi_match`, never as query syntax: the analyzer cuts it into words and every
 * word must match (`operator: 'and'`, the helpers' default). Nothing is an operator: `OR`, `AND`,
 * `NOT` are words like any other (`climatizacion OR ascensor` looks for documents holding all
 * three words), and `-`, `+`, quotes, `*`, `:`, parentheses are punctuation the analyzer drops.
 * Nothing the user types can fail to parse, widen the query or reach another field.
 *
 * **Simple syntax (opt-in: `syntax: 'simple'` on `match`/`multiMatch`).** A small syntax parsed
 * here, by {@link parseSimpleQuery}, into `match`/`match_phrase`/`bool` clauses (the engine's
 * `query_string` parser is never used, so it cannot fail and means the same on every engine):
 *
 * - `word`: must match (all bare words go into one `match` with the helper's `operator`);
 * - `"two words"`: the phrase must match (an unclosed quote runs to the end);
 * - `a OR b`, `a | b`: either (OR binds tighter than the implicit AND: `x a OR b y` is
 *   x AND (a OR b) AND y); only uppercase `OR` is an operator;
 * - `-word`, `-"a phrase"`, `NOT word`: must not match;
 * - `AND` and a leading `+` are accepted and change nothing (every term is required anyway).
 *
 * Anything else is text. A dangling operator (`OR` with nothing on one side, a lone `-`) is
 * ignored. Text made only of exclusions matches every document without them; empty text matches
 * nothing.
 *
 * **`query_string` over user text** is not used by the helpers; a caller who builds one passes
 * the text through {@link escapeQueryText} first, which makes every character and word of the
 * Lucene syntax literal: operator characters are backslash-escaped, `<` and `>` (which cannot be
 * escaped) are removed, and the operator words `AND`, `OR`, `NOT` are escaped (`\OR`), which the
 * classic parser reads as the plain word.
 */
import { SearchError } from './errors.js'

const RESERVED = /[+\-=&|!(){}[\]^"~*?:\\/]/g
const UNESCAPABLE = /[<>]/g
/** The classic query parser's operator words, as whole whitespace-separated tokens. */
const OPERATOR_WORDS = /(^|\s)(AND|OR|NOT)(?=\s|$)/g

/** Default maximum length of user search text, in characters. */
export const DEFAULT_MAX_QUERY_LENGTH = 256

/** How a full-text helper reads user text: `plain` (no operators) or the `simple` syntax. */
export type QuerySyntax = 'plain' | 'simple'

/**
 * Escape user text for use inside a Lucene `query_string` query: the result matches the words
 * the user typed, with no operator (see the module note).
 *
 * @param text - raw user input
 * @param maxLength - longest accepted input in characters @default 256
 * @throws SearchError `E_SEARCH_QUERY_TOO_LONG` when the text is longer than `maxLength`
 */
export function escapeQueryText(text: string, maxLength = DEFAULT_MAX_QUERY_LENGTH): string {
  if (typeof text !== 'string') {
    throw new SearchError('E_SEARCH_INVALID_VALUE', 'Search text must be a string')
  }
  if (text.length > maxLength) {
    throw new SearchError(
      'E_SEARCH_QUERY_TOO_LONG',
      `Search text is ${text.length} characters long; the limit is ${maxLength}`,
    )
  }
  return text.replace(UNESCAPABLE, '').replace(RESERVED, '\\$&').replace(OPERATOR_WORDS, '$1\\$2')
}

/** One term of the simple syntax: a word or a quoted phrase. */
export interface SimpleQueryTerm {
  /** `word` or `phrase`. */
  kind: 'word' | 'phrase'
  /** The text (without quotes). */
  text: string
}

/** User text in the simple syntax, parsed (see {@link parseSimpleQuery}). */
export interface ParsedSimpleQuery {
  /** Bare words: one `match` with the helper's `operator` (all required by default). */
  words: string[]
  /** Phrases that must match. */
  phrases: string[]
  /** OR groups: each needs one of its terms (two or more terms each). */
  anyOf: SimpleQueryTerm[][]
  /** Terms that must not match. */
  none: SimpleQueryTerm[]
}

interface Token {
  kind: 'word' | 'phrase' | 'or' | 'and' | 'not'
  text: string
  negated: boolean
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text[i] as string
    if (/\s/.test(c)) {
      i++
      continue
    }
    let negated = false
    let start = i
    if ((c === '-' || c === '+') && i + 1 < n && !/\s/.test(text[i + 1] as string)) {
      negated = c === '-'
      start = ++i
    }
    if (text[start] === '"') {
      const close = text.indexOf('"', start + 1)
      const end = close === -1 ? n : close
      tokens.push({ kind: 'phrase', text: text.slice(start + 1, end), negated })
      i = close === -1 ? n : close + 1
      continue
    }
    let end = start
    while (end < n && !/\s/.test(text[end] as string) && text[end] !== '"') end++
    const word = text.slice(start, end)
    i = end
    if (!negated && word === '|') tokens.push({ kind: 'or', text: word, negated })
    else if (!negated && word === 'OR') tokens.push({ kind: 'or', text: word, negated })
    else if (!negated && word === 'AND') tokens.push({ kind: 'and', text: word, negated })
    else if (!negated && word === 'NOT') tokens.push({ kind: 'not', text: word, negated })
    else if (word.length > 0) tokens.push({ kind: 'word', text: word, negated })
  }
  return tokens
}

/**
 * Parse user text in the simple syntax (see the module note). Never throws on any input: every
 * string has one meaning.
 */
export function parseSimpleQuery(text: string): ParsedSimpleQuery {
  const out: ParsedSimpleQuery = { words: [], phrases: [], anyOf: [], none: [] }
  /** Positive terms in order, each either alone or the members of one OR group. */
  const units: SimpleQueryTerm[][] = []
  let pendingOr = false
  let pendingNot = false
  for (const token of tokenize(text)) {
    if (token.kind === 'or') {
      pendingOr = units.length > 0 && !pendingNot
      continue
    }
    if (token.kind === 'and') {
      pendingOr = false
      continue
    }
    if (token.kind === 'not') {
      pendingNot = true
      pendingOr = false
      continue
    }
    const term: SimpleQueryTerm = { kind: token.kind, text: token.text }
    if (token.kind === 'phrase' && term.text.trim() === '') {
      pendingOr = false
      pendingNot = false
      continue
    }
    if (token.negated || pendingNot) {
      out.none.push(term)
      pendingNot = false
      pendingOr = false
      continue
    }
    if (pendingOr) (units.at(-1) as SimpleQueryTerm[]).push(term)
    else units.push([term])
    pendingOr = false
  }
  for (const unit of units) {
    if (unit.length > 1) out.anyOf.push(unit)
    else if ((unit[0] as SimpleQueryTerm).kind === 'word') out.words.push((unit[0] as SimpleQueryTerm).text)
    else out.phrases.push((unit[0] as SimpleQueryTerm).text)
  }
  return out
}
