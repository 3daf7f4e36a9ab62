/**
 * Labels of a handler call: the route pattern (never the raw URL, so label sets stay bounded),
 * the method, and the transport; shared by the Prometheus and OpenTelemetry interceptors.
 *
 * A GraphQL resolver is labelled by the schema field it resolves (`Query.invoice`,
 * `Mutation.updateInvoice`, `Invoice.client`) and the operation type (`QUERY`, `MUTATION`,
 * `SUBSCRIPTION`), read from the resolver's `GraphQLResolveInfo` (its fourth argument, so this
 * module needs no `@nestjs/graphql` import). Both are bounded by the schema; the client-chosen
 * operation name and aliases are never used.
 *
 * A microservice handler is labelled by the pattern of its `@MessagePattern` / `@EventPattern`
 * (read from the handler's metadata, so a wildcard subscription or a Kafka topic never puts the
 * concrete channel in a label), written as Nest writes it to route messages: a string or number
 * as it is, an object as sorted-key JSON (`{ v: 1, cmd: 'find' }` -> `{"cmd":"find","v":1}`).
 * The method is the transport: the one the decorator names (`@MessagePattern(p, Transport.TCP)`,
 * gRPC methods), else the transport whose context the handler receives (`RedisContext` ->
 * `REDIS`, `TcpContext` -> `TCP`, a custom transport's `SqsContext` -> `SQS`), else `RPC`. The
 * labels of a handler are computed once and kept per handler function.
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
  originalUrl?: string
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

/** `PATTERN_METADATA` and `TRANSPORT_METADATA` of `@nestjs/microservices` (not imported: optional). */
const PATTERN_METADATA = 'microservices:pattern'
const TRANSPORT_METADATA = 'microservices:transport'

/** Member names of `@nestjs/microservices`' numeric `Transport` enum, by value. */
const TRANSPORT_NAMES: readonly string[] = ['TCP', 'REDIS', 'NATS', 'MQTT', 'GRPC', 'RMQ', 'KAFKA']

/** Nest's bounds on a pattern's nesting and keys (`transformPatternToRoute`). */
const MAX_PATTERN_DEPTH = 5
const MAX_PATTERN_KEYS = 20

function escapeQuoted(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')
}

function patternRoute(pattern: unknown, depth: number): string {
  if (typeof pattern === 'string' || typeof pattern === 'number') return `${pattern}`
  if (pattern === null || typeof pattern !== 'object') return String(pattern)
  if (depth > MAX_PATTERN_DEPTH) return '[MAX_DEPTH_REACHED]'
  const record = pattern as Record<string, unknown>
  const keys = Object.keys(record)
  if (keys.length > MAX_PATTERN_KEYS) return '[TOO_MANY_KEYS]'
  keys.sort((a, b) => a.localeCompare(b))
  const parts = keys.map((key) => {
    const value = record[key]
    const text = patternRoute(value, depth + 1)
    return `"${escapeQuoted(key)}":${typeof value === 'string' ? `"${escapeQuoted(text)}"` : text}`
  })
  return `{${parts.join(',')}}`
}

/**
 * The `route` label of a microservice handler declared with `pattern`: the string Nest routes
 * the pattern by (its `transformPatternToRoute`): a string or number as it is, an object as JSON
 * with its keys sorted at every level, so `{ v: 1, cmd: 'find' }` and `{ cmd: 'find', v: 1 }` give
 * the same `{"cmd":"find","v":1}`. Use it to name such a handler in `ignoreRoutes` or a dashboard.
 */
export function messagePatternRoute(pattern: unknown): string {
  return patternRoute(pattern, 0)
}

/** What a microservice handler's labels are made of, read once from its metadata. */
interface RpcHandlerLabels {
  /** One route per declared pattern (a handler may declare several). */
  routes: readonly string[]
  /** The transport named by the decorator, if any. */
  transport: string | undefined
}

const rpcHandlerLabels = new WeakMap<object, RpcHandlerLabels | null>()
const contextTransports = new WeakMap<object, string>()

function metadataOf(key: string, handler: object): unknown {
  return Reflect.getMetadata(key, handler)
}

function readRpcHandlerLabels(handler: object): RpcHandlerLabels | null {
  const patterns = metadataOf(PATTERN_METADATA, handler)
  if (!Array.isArray(patterns) || patterns.length === 0) return null
  const declared = metadataOf(TRANSPORT_METADATA, handler)
  let transport: string | undefined
  if (typeof declared === 'number') transport = TRANSPORT_NAMES[declared]
  else if (typeof declared === 'symbol') transport = declared.description?.toUpperCase()
  return { routes: patterns.map((pattern) => patternRoute(pattern, 0)), transport }
}

/** `REDIS` for a `RedisContext`, `TCP` for a `TcpContext`...; `RPC` for anything else. */
function transportOfContext(rpcContext: unknown): string {
  const type = (rpcContext as { constructor?: unknown } | null | undefined)?.constructor
  if (typeof type !== 'function') return 'RPC'
  let name = contextTransports.get(type)
  if (name === undefined) {
    const match = /^(\w+)Context$/.exec(type.name)
    name = match?.[1] === undefined ? 'RPC' : match[1].toUpperCase()
    contextTransports.set(type, name)
  }
  return name
}

/** The pattern, channel, topic or subject a message came in on, as its transport context says. */
function incomingPattern(rpcContext: unknown): unknown {
  const ctx = rpcContext as Record<string, unknown> | null | undefined
  if (ctx === null || typeof ctx !== 'object') return undefined
  for (const getter of ['getPattern', 'getChannel', 'getTopic', 'getSubject']) {
    const read = ctx[getter]
    if (typeof read === 'function') return read.call(ctx)
  }
  return undefined
}

/** Labels of a microservice handler call: its message pattern and the transport. */
function rpcRoute(context: ExecutionContext): RouteInfo | undefined {
  const handler = context.getHandler()
  let labels = rpcHandlerLabels.get(handler)
  if (labels === undefined) {
    labels = readRpcHandlerLabels(handler)
    rpcHandlerLabels.set(handler, labels)
  }
  if (labels === null) return undefined
  const rpcContext = context.getArgByIndex<unknown>(1)
  let route = labels.routes[0] as string
  if (labels.routes.length > 1) {
    // Several patterns on one handler: the one the message came in on, when the transport's
    // context names it exactly; else all of them (still one bounded label per handler).
    const incoming = incomingPattern(rpcContext)
    route =
      typeof incoming === 'string' && labels.routes.includes(incoming) ? incoming : labels.routes.join(' | ')
  }
  return { transport: 'rpc', method: labels.transport ?? transportOfContext(rpcContext), route }
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
  if (transport === 'rpc') {
    const route = rpcRoute(context)
    if (route !== undefined) return route
  }
  return {
    transport,
    method: transport.toUpperCase(),
    route: `${context.getClass().name}.${context.getHandler().name}`,
  }
}

/** Longest path kept by {@link requestPath}, in characters (longer ones are cut). */
export const MAX_REQUEST_PATH_LENGTH = 1024

/**
 * The path of an HTTP request, without its query string (which may carry tokens), cut at
 * {@link MAX_REQUEST_PATH_LENGTH}: Express's `originalUrl` (the path before any router mount
 * stripped it), else the `url` of Fastify or plain Node. `undefined` for other transports.
 */
export function requestPath(context: ExecutionContext): string | undefined {
  if (context.getType<string>() !== 'http') return undefined
  const request = context.switchToHttp().getRequest<HttpRequestLike>()
  const url = request.originalUrl ?? request.url
  if (typeof url !== 'string') return undefined
  const query = url.indexOf('?')
  const path = query === -1 ? url : url.slice(0, query)
  return path.length > MAX_REQUEST_PATH_LENGTH ? path.slice(0, MAX_REQUEST_PATH_LENGTH) : path
}

/** The status a failed handler call answers with. */
export function statusOfError(error: unknown): number {
  if (error instanceof HttpException) return error.getStatus()
  const status = (error as { status?: unknown; statusCode?: unknown } | null)?.status
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500
}
