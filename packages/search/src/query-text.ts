/**
 * User text reaches the engine only as a value, never spliced into query syntax. When a caller
 * wants `query_string`/`simple_query_string` semantics over user input, the input is escaped
 * first: every operator character of the Lucene query syntax is backslash-escaped, and the two
 * operators that cannot be escaped (`<` and `>`) are removed.
 */
import { SearchError } from './errors.js'

const RESERVED = /[+\-=&|!(){}[\]^"~*?:\\/]/g
const UNESCAPABLE = /[<>]/g

/** Default maximum length of user search text, in characters. */
export const DEFAULT_MAX_QUERY_LENGTH = 256

/**
 * Escape user text for use inside a Lucene `query_string` query.
 *
 * @param text - raw user input
 * @param maxLength - longest accepted input in characters @default 256
 * @throws SearchError `E_SEARCH_QUERY_TOO_LONG` when the text is longer than `maxLength`
 */
export function escapeQueryText(text: string, maxLength = DEFAULT_MAX_QUERY_LENGTH): string {
  if (text.length > maxLength) {
    throw new SearchError(
      'E_SEARCH_QUERY_TOO_LONG',
      `Search text is ${text.length} characters long; the limit is ${maxLength}`,
    )
  }
  return text.replace(UNESCAPABLE, '').replace(RESERVED, '\\$&')
}
