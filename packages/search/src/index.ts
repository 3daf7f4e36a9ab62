export type { SearchErrorCode, SearchErrorContext } from './errors.js'
export { SearchError } from './errors.js'
export { DEFAULT_MAX_QUERY_LENGTH, escapeQueryText } from './query-text.js'
