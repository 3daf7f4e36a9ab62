/**
 * Input validation of the example: every parameter a controller reads goes through this module,
 * and nothing reaches a repository (hence the database, the cache or the search engine) until
 * all of it is valid. A rejected request answers 400 (415 for a body that is not JSON) with a
 * body naming the parameter: `{ statusCode, error, message, parameter }`.
 *
 * Two layers, because Nest's pipes only see values that were already decoded:
 *
 * - {@link InputInterceptor} (on every controller that takes input) checks the raw request. The
 *   URL must be ASCII with well-formed percent-escapes that decode to valid UTF-8: Express
 *   decodes an invalid sequence to U+FFFD and a raw non-ASCII byte to a Latin-1 character, so
 *   past this point a bad byte could no longer be told from a real character. Query parameters
 *   the handler does not declare (through its `@Query('name')` arguments) are refused, as the
 *   body's unknown fields are. A body must be `application/json`, valid UTF-8 (checked on
 *   `req.rawBody`, which `startApp` turns on) and must not repeat a key (JSON.parse keeps the
 *   last one silently).
 * - The pipes and `*Field` parsers check each value: given once (Express turns `?q=a&q=b` into
 *   an array), of the right type, within the range of its column, a real calendar date within
 *   MariaDB's `DATE` range (1000-01-01..9999-12-31), text well formed (no lone surrogate, which
 *   the driver would store as U+FFFD) without control characters, and of bounded length.
 *
 * Lengths are UTF-16 code units (`string.length`, an emoji counts 2): the same unit as the
 * search package's `maxQueryLength`, and never more characters than the `VARCHAR` column holds.
 */
import { isUtf8 } from 'node:buffer'
import {
  type ArgumentMetadata,
  BadRequestException,
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  type PipeTransform,
  UnsupportedMediaTypeException,
} from '@nestjs/common'
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js'
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js'
import type { Observable } from 'rxjs'

/** Largest value of a signed `INT` column (every id of the schema). */
export const INT_MAX = 2_147_483_647

/** MariaDB's `DATE` range. */
export const DATE_MIN = '1000-01-01'
/** MariaDB's `DATE` range. */
export const DATE_MAX = '9999-12-31'

/** A 400 naming the parameter at fault. */
export class InvalidInputException extends BadRequestException {
  constructor(
    /** The parameter, field or part of the request at fault (`q`, `id`, `dueAt`, `url`, `body`). */
    readonly parameter: string,
    message: string,
  ) {
    super({ statusCode: 400, error: 'Bad Request', message, parameter })
  }
}

// ---------------------------------------------------------------- values

/** The single string value of a query or path parameter; refuses repeated and nested forms. */
export function single(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (Array.isArray(value)) throw new InvalidInputException(name, `${name} must be given once`)
  if (typeof value !== 'string') throw new InvalidInputException(name, `${name} must be a single value`)
  return value
}

// C0 controls but tab, line feed and carriage return; DEL; C1 controls.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/

/** Options of {@link textValue}. */
export interface TextOptions {
  /** Longest accepted text after trimming, in UTF-16 code units. */
  maxLength: number
  /** Allow tab and line breaks. @default false */
  multiline?: boolean | undefined
}

/** Trimmed, well-formed text of 1 to `maxLength` code units, without control characters. */
export function textValue(name: string, value: unknown, options: TextOptions): string {
  if (typeof value !== 'string') throw new InvalidInputException(name, `${name} must be a string`)
  // A lone surrogate: UTF-8 cannot encode it (the driver would write U+FFFD).
  if (!(value as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    throw new InvalidInputException(name, `${name} is not valid Unicode (a lone surrogate)`)
  }
  const text = value.trim()
  if (text === '' || text.length > options.maxLength) {
    throw new InvalidInputException(name, `${name} must be 1 to ${options.maxLength} characters`)
  }
  if (CONTROL.test(text) || (options.multiline !== true && /[\t\n\r]/.test(text))) {
    throw new InvalidInputException(name, `${name} must not contain control characters`)
  }
  return text
}

/** A decimal integer in `[min, max]`: digits only, no sign, no leading zero, no exponent. */
export function integerValue(name: string, value: string, min: number, max: number): number {
  // At most the digits of `max`, so that Number() is exact before the range check.
  if (
    !/^(0|[1-9]\d*)$/.test(value) ||
    value.length > String(max).length ||
    Number(value) < min ||
    Number(value) > max
  ) {
    throw new InvalidInputException(name, `${name} must be an integer from ${min} to ${max}`)
  }
  return Number(value)
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/** A calendar date `YYYY-MM-DD` within MariaDB's `DATE` range (2025-02-30 is refused, not rolled over). */
export function dateValue(name: string, value: unknown): string {
  const match = typeof value === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value) : null
  const [year, month, day] = match === null ? [0, 0, 0] : match.slice(1).map(Number)
  if (
    match === null ||
    year === undefined ||
    month === undefined ||
    day === undefined ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysIn(year, month) ||
    (value as string) < DATE_MIN
  ) {
    throw new InvalidInputException(
      name,
      `${name} must be a calendar date YYYY-MM-DD from ${DATE_MIN} to ${DATE_MAX}`,
    )
  }
  return value as string
}

/** A month `YYYY-MM` within MariaDB's `DATE` range (1000-01..9999-12). */
export function monthValue(name: string, value: string): string {
  if (!/^[1-9]\d{3}-(0[1-9]|1[0-2])$/.test(value)) {
    throw new InvalidInputException(name, `${name} must be a month YYYY-MM from 1000-01 to 9999-12`)
  }
  return value
}

/** One of `values`. */
export function enumValue<const T extends string>(name: string, value: unknown, values: readonly T[]): T {
  if (!(values as readonly unknown[]).includes(value)) {
    throw new InvalidInputException(name, `${name} must be one of ${values.join(', ')}`)
  }
  return value as T
}

// ---------------------------------------------------------------- pipes

/** `@Param('id', IdPipe)`: a row id, 1 to {@link INT_MAX} (the `INT` primary keys). */
@Injectable()
export class IdPipe implements PipeTransform<unknown, number> {
  transform(value: unknown, metadata: ArgumentMetadata): number {
    const name = metadata.data ?? 'id'
    const raw = single(name, value)
    if (raw === undefined) throw new InvalidInputException(name, `${name} is required`)
    return integerValue(name, raw, 1, INT_MAX)
  }
}

/** `@Query('size', new IntegerPipe(1, 100, 20))`: an optional integer in `[min, max]`. */
export class IntegerPipe implements PipeTransform<unknown, number> {
  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly fallback: number,
  ) {}

  transform(value: unknown, metadata: ArgumentMetadata): number {
    const name = metadata.data ?? 'value'
    const raw = single(name, value)
    return raw === undefined ? this.fallback : integerValue(name, raw, this.min, this.max)
  }
}

/** `@Query('q', new TextPipe(200))`: required text (see {@link textValue}). */
export class TextPipe implements PipeTransform<unknown, string> {
  constructor(private readonly maxLength: number) {}

  transform(value: unknown, metadata: ArgumentMetadata): string {
    const name = metadata.data ?? 'text'
    const raw = single(name, value)
    if (raw === undefined) throw new InvalidInputException(name, `${name} is required`)
    return textValue(name, raw, { maxLength: this.maxLength })
  }
}

/** `@Query('status', new EnumPipe(INVOICE_STATUSES))`: an optional value among `values`. */
export class EnumPipe<const T extends string> implements PipeTransform<unknown, T | undefined> {
  constructor(private readonly values: readonly T[]) {}

  transform(value: unknown, metadata: ArgumentMetadata): T | undefined {
    const name = metadata.data ?? 'value'
    const raw = single(name, value)
    return raw === undefined ? undefined : enumValue(name, raw, this.values)
  }
}

/** `@Query('from', new MonthPipe('2000-01'))`: an optional month `YYYY-MM`. */
export class MonthPipe implements PipeTransform<unknown, string> {
  constructor(private readonly fallback: string) {}

  transform(value: unknown, metadata: ArgumentMetadata): string {
    const name = metadata.data ?? 'month'
    const raw = single(name, value)
    return raw === undefined ? this.fallback : monthValue(name, raw)
  }
}

/** `@Query('clientId', OptionalIdPipe)`: an optional row id, 1 to {@link INT_MAX}. */
@Injectable()
export class OptionalIdPipe implements PipeTransform<unknown, number | undefined> {
  transform(value: unknown, metadata: ArgumentMetadata): number | undefined {
    const name = metadata.data ?? 'id'
    const raw = single(name, value)
    return raw === undefined ? undefined : integerValue(name, raw, 1, INT_MAX)
  }
}

/** `@Query('from', DatePipe)`: an optional calendar date `YYYY-MM-DD` (see {@link dateValue}). */
@Injectable()
export class DatePipe implements PipeTransform<unknown, string | undefined> {
  transform(value: unknown, metadata: ArgumentMetadata): string | undefined {
    const name = metadata.data ?? 'date'
    const raw = single(name, value)
    return raw === undefined ? undefined : dateValue(name, raw)
  }
}

/** `@Query('minTotalCents', new OptionalIntegerPipe(0, INT_MAX))`: an optional integer in `[min, max]`. */
export class OptionalIntegerPipe implements PipeTransform<unknown, number | undefined> {
  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {}

  transform(value: unknown, metadata: ArgumentMetadata): number | undefined {
    const name = metadata.data ?? 'value'
    const raw = single(name, value)
    return raw === undefined ? undefined : integerValue(name, raw, this.min, this.max)
  }
}

// ---------------------------------------------------------------- the raw request

/**
 * Why the raw URL is unacceptable, or undefined: not ASCII, a malformed percent-escape, or
 * escapes that do not decode to valid UTF-8.
 */
export function urlProblem(url: string): string | undefined {
  if (/[^\u0021-\u007e]/.test(url)) return 'the URL must be ASCII (percent-encode UTF-8 bytes)'
  const bytes: number[] = []
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c !== 0x25) {
      bytes.push(c)
      continue
    }
    const hex = url.slice(i + 1, i + 3)
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return 'the URL has a malformed percent-escape'
    bytes.push(Number.parseInt(hex, 16))
    i += 2
  }
  return isUtf8(Uint8Array.from(bytes)) ? undefined : 'the URL has percent-escapes that are not valid UTF-8'
}

/** The first key that appears twice in one object of a JSON text (which JSON.parse accepted), or undefined. */
export function duplicateKey(json: string): string | undefined {
  // A scan of the tokens: strings (skipping escapes), and one set of keys per open object. A
  // string is a key when the next non-blank character is ':'.
  const objects: Array<Set<string> | null> = []
  for (let i = 0; i < json.length; i++) {
    const c = json[i]
    if (c === '{') objects.push(new Set())
    else if (c === '[') objects.push(null)
    else if (c === '}' || c === ']') objects.pop()
    else if (c === '"') {
      let end = i + 1
      while (end < json.length && json[end] !== '"') end += json[end] === '\\' ? 2 : 1
      let next = end + 1
      while (next < json.length && /\s/.test(json[next] as string)) next++
      const keys = objects.at(-1)
      if (json[next] === ':' && keys) {
        const key = JSON.parse(json.slice(i, end + 1)) as string
        if (keys.has(key)) return key
        keys.add(key)
      }
      i = end
    }
  }
  return undefined
}

interface RawRequest {
  method: string
  originalUrl?: string | undefined
  url: string
  headers: Record<string, string | string[] | undefined>
  query?: Record<string, unknown> | undefined
  rawBody?: Buffer | undefined
}

/** The names of the `@Query('name')` arguments of a handler; `null` when it takes the whole query object. */
function declaredQuery(controller: object, handler: string): Set<string> | null {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler) ?? {}) as Record<
    string,
    { data?: unknown }
  >
  const names: Array<[number, string]> = []
  for (const [key, arg] of Object.entries(args)) {
    const [type, index] = key.split(':').map(Number)
    if (type !== RouteParamtypes.QUERY) continue
    if (typeof arg.data !== 'string') return null
    names.push([index ?? 0, arg.data])
  }
  return new Set(names.sort((a, b) => a[0] - b[0]).map(([, name]) => name))
}

/**
 * `@UseInterceptors(InputInterceptor)` on a controller: the checks of the raw request (see the
 * module header). Registered as an interceptor (not a guard) so that the metrics interceptor,
 * which wraps it, counts the requests it refuses.
 */
@Injectable()
export class InputInterceptor implements NestInterceptor {
  private readonly declared = new WeakMap<object, Set<string> | null>()

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<RawRequest>()
    const url = request.originalUrl ?? request.url
    const problem = urlProblem(url)
    if (problem !== undefined) throw new InvalidInputException('url', problem)

    const handler = context.getHandler()
    let allowed = this.declared.get(handler)
    if (allowed === undefined) {
      allowed = declaredQuery(context.getClass(), handler.name)
      this.declared.set(handler, allowed)
    }
    if (allowed !== null) {
      for (const name of Object.keys(request.query ?? {})) {
        if (!allowed.has(name)) {
          const accepted = allowed.size === 0 ? 'none' : [...allowed].join(', ')
          throw new InvalidInputException(name, `unknown query parameter "${name}" (accepted: ${accepted})`)
        }
      }
    }

    const length = Number(request.headers['content-length'] ?? 0)
    if (length > 0 || request.headers['transfer-encoding'] !== undefined) {
      const type = String(request.headers['content-type'] ?? '')
      if (!/^application\/json\s*(;|$)/i.test(type)) {
        throw new UnsupportedMediaTypeException('the body must be application/json')
      }
      const raw = request.rawBody
      if (raw === undefined) {
        // A JSON body parsed without its bytes kept: the app was created without `rawBody: true`
        // (see startApp), and the UTF-8 check below cannot run. A wiring error, never user input.
        throw new Error('InputInterceptor needs NestFactory.create(..., { rawBody: true })')
      }
      if (!isUtf8(raw)) throw new InvalidInputException('body', 'the body is not valid UTF-8')
      const repeated = duplicateKey(raw.toString('utf8'))
      if (repeated !== undefined) {
        throw new InvalidInputException(repeated, `field "${repeated}" is given more than once`)
      }
    }
    return next.handle()
  }
}
