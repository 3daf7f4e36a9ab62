/**
 * Labels of a handler call: the route pattern (never the raw URL, so label sets stay bounded),
 * the method, and the transport; shared by the Prometheus and OpenTelemetry interceptors.
 *
 * A GraphQL resolver is labelled by the schema field it resolves (`Query.invoice`,
 * `Mutation.updateInvoice`, `Invoice.client`) and the operation type (`QUERY`, `MUTATION`,
 * `SUBSCRIPTION`), read from the resolver's `GraphQLResolveInfo` (its fourth argument, so this
 * module needs no `@nestjs/graphql` import). Both are bounded by the schema; the client-chosen
 * operation name and aliases are never used.
 */
import { type ExecutionContext, HttpException } from '@nestjs/common'

/** What a request is labelled with. */
export interface RouteInfo {
  transport: string
  method: string
  route: string
}

interface HttpRequestLike {
  method?: string
  baseUrl?: string
  route?: { path?: unknown }
  routeOptions?: { url?: unknown }
  routerPath?: unknown
  url?: string
}

/** Route pattern of an Express (`req.route.path`) or Fastify (`req.routeOptions.url`) request. */
function httpRoute(request: HttpRequestLike, context: ExecutionContext): string {
  const expressPath = request.route?.path
  if (typeof expressPath === 'string') return `${request.baseUrl ?? ''}${expressPath}`
  const fastifyPath = request.routeOptions?.url ?? request.routerPath
  if (typeof fastifyPath === 'string') return fastifyPath
  return `${context.getClass().name}.${context.getHandler().name}`
}

/** The parts of graphql-js's `GraphQLResolveInfo` the labels are made of. */
interface ResolveInfoLike {
  fieldName?: unknown
  parentType?: { name?: unknown } | null
  operation?: { operation?: unknown } | null
}

/** Labels of a GraphQL resolver call: `Type.field` and the operation type. */
function graphqlRoute(context: ExecutionContext): RouteInfo | undefined {
  const info = context.getArgByIndex<ResolveInfoLike | undefined>(3)
  const type = info?.parentType?.name
  const field = info?.fieldName
  if (typeof type !== 'string' || typeof field !== 'string') return undefined
  const operation = info?.operation?.operation
  return {
    transport: 'graphql',
    method: typeof operation === 'string' ? operation.toUpperCase() : 'GRAPHQL',
    route: `${type}.${field}`,
  }
}

/** Transport, method and route pattern of the handler call in `context`. */
export function describeRoute(context: ExecutionContext): RouteInfo {
  const transport = context.getType<string>()
  if (transport === 'http') {
    const request = context.switchToHttp().getRequest<HttpRequestLike>()
    return { transport, method: request.method ?? 'HTTP', route: httpRoute(request, context) }
  }
  if (transport === 'graphql') {
    const route = graphqlRoute(context)
    if (route !== undefined) return route
  }
  return {
    transport,
    method: transport.toUpperCase(),
    route: `${context.getClass().name}.${context.getHandler().name}`,
  }
}

/** The status a failed handler call answers with. */
export function statusOfError(error: unknown): number {
  if (error instanceof HttpException) return error.getStatus()
  const status = (error as { status?: unknown; statusCode?: unknown } | null)?.status
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500
}
