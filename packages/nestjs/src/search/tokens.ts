import { Inject } from '@nestjs/common'

/** Token of the module's `SearchClient`. */
export const AYALA_SEARCH_CLIENT: symbol = Symbol.for('@ayala/nestjs:search-client')
/** Token of the module's `Outbox` (when the `outbox` option is given). */
export const AYALA_SEARCH_OUTBOX: symbol = Symbol.for('@ayala/nestjs:search-outbox')

/** Token of the module's `SearchSync` (outbox backlog, dead letters, drift, missing indexes). */
export const AYALA_SEARCH_SYNC: symbol = Symbol.for('@ayala/nestjs:search-sync')

/** Parameter decorator injecting the module's `SearchSync`. */
export function InjectSearchSync(): PropertyDecorator & ParameterDecorator {
  return Inject(AYALA_SEARCH_SYNC)
}

/** Token of the {@link SearchRepository} of the index `definition` (or index name). */
export function getSearchRepositoryToken(definition: { readonly name: string } | string): symbol {
  return Symbol.for(
    `@ayala/nestjs:search-repository:${typeof definition === 'string' ? definition : definition.name}`,
  )
}

/** Parameter decorator injecting the repository of `definition`: `@InjectSearchRepository(invoices) repo: SearchRepository<typeof invoices.fields>`. */
export function InjectSearchRepository(
  definition: { readonly name: string } | string,
): PropertyDecorator & ParameterDecorator {
  return Inject(getSearchRepositoryToken(definition))
}

/** Parameter decorator injecting the module's `SearchClient`. */
export function InjectSearchClient(): PropertyDecorator & ParameterDecorator {
  return Inject(AYALA_SEARCH_CLIENT)
}
