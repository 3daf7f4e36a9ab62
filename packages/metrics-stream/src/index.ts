export type { MetricsStreamErrorCode, MetricsStreamErrorContext } from './errors.js'
export { MetricsStreamError } from './errors.js'
export type { PartitionKeys } from './keys.js'
export { partitionKeys } from './keys.js'
