/**
 * fast-check arbitraries of HTTP requests to the invoicing API: well-formed and adversarial
 * paths, query strings, methods, headers and bodies on every endpoint. Text comes from a pool of
 * edge cases (lone surrogates, control characters, query syntax, lengths at and past each
 * limit, numbers past 2^53 and 2^63, dates that do not exist) mixed with random UTF-16 and random
 * bytes, encoded every way a client can get it wrong (raw bytes, broken percent-escapes,
 * percent-escapes of invalid UTF-8). Every message is complete (its body matches its framing):
 * a client that never finishes its body is waited for by Node's `requestTimeout`, not refused.
 */
import fc from 'fast-check'
import type { RawRequest } from './raw-http.ts'

const STATUSES = ['draft', 'issued', 'paid', 'overdue', 'cancelled']

/** Strings at the edges of what the API validates. */
const EDGE_TEXT = [
  '',
  ' ',
  '   \t ',
  '\u0000',
  'a\u0000b',
  '\u0007',
  '\u007f',
  '\u0085',
  '\ud800',
  'x\udfffy',
  '\ud83d\ude00',
  '\u202e',
  '\ufeff',
  '\ufffd',
  'a'.repeat(200),
  'a'.repeat(201),
  'a'.repeat(500),
  'a'.repeat(501),
  '😀'.repeat(100),
  '😀'.repeat(101),
  'climatizacion',
  'climatización urgente',
  'FAC-2026-',
  'fac-2025-0000',
  '"',
  '"unbalanced',
  '\\',
  '*',
  '?',
  'a OR b',
  'NOT x AND (y',
  'status:paid',
  '/regex.*/',
  'a~2',
  'x^3',
  '[a TO z]',
  '{',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '%',
  '%%',
  '%ZZ',
  '$' + '{x}',
  '__proto__',
  'constructor',
  'toString',
  '0',
  '-1',
  '1',
  '007',
  '1.5',
  '1e3',
  '0x10',
  '+1',
  ' 1',
  '2147483647',
  '2147483648',
  '4294967296',
  '9007199254740993',
  '9223372036854775807',
  '9223372036854775808',
  '18446744073709551616',
  '1'.repeat(400),
  'NaN',
  'Infinity',
  'null',
  'true',
  '[]',
  '{}',
  '2025-02-30',
  '2024-02-29',
  '2023-02-29',
  '0000-01-01',
  '0999-12-31',
  '1000-01-01',
  '9999-12-31',
  '10000-01-01',
  '2025-13-01',
  '2025-00-10',
  '2025-1-1',
  '2025-01-01T00:00:00Z',
  '2025-01',
  '0000-01',
  '1000-01',
  '9999-12',
  '2026-13',
  ...STATUSES,
  'PAID',
]

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))

/** Text: an edge case, random UTF-16, random code points, or an edge case with noise around it. */
export const text: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...EDGE_TEXT), weight: 5 },
  { arbitrary: fc.string({ unit: codeUnit, maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }), weight: 1 },
  {
    arbitrary: fc
      .tuple(fc.string({ maxLength: 5 }), fc.constantFrom(...EDGE_TEXT), fc.string({ maxLength: 5 }))
      .map((parts) => parts.join('')),
    weight: 2,
  },
)

/** `String.prototype.isWellFormed` (ES2024; the base lib is ES2023). */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

const hex = (byte: number) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`

/** Percent-encode every byte of `bytes`. */
function percentBytes(bytes: Uint8Array): string {
  return Array.from(bytes, hex).join('')
}

/**
 * One URL component as it goes on the wire (a `latin1` string: a character per byte): encoded
 * correctly, as raw bytes, with escapes of random bytes, or with broken escapes.
 */
export const component = (value: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    {
      arbitrary: value.map((s) => percentBytes(Buffer.from(s, 'utf8'))),
      weight: 6,
    },
    {
      // What encodeURIComponent gives (throws on a lone surrogate: fall back to a broken escape).
      arbitrary: value.map((s) => (wellFormed(s) ? encodeURIComponent(s) : '%ED%A0%80')),
      weight: 4,
    },
    // Raw bytes: the UTF-8 of the text unescaped (non-ASCII, spaces, controls on the wire).
    { arbitrary: value.map((s) => Buffer.from(s, 'utf8').toString('latin1')), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 12 }).map(percentBytes), weight: 2 },
    {
      // A broken or invalid escape after valid text: truncated, non-hex, overlong, lone bytes.
      arbitrary: fc
        .tuple(value, fc.constantFrom('%', '%G0', '%4', '%%41', '%C3', '%E2%82', '%C0%AF', '%FF', '%00'))
        .map(([s, broken]) => `${encodeURIComponent(wellFormed(s) ? s : 'x')}${broken}`),
      weight: 2,
    },
  )

const QUERY_NAMES = [
  'q',
  'status',
  'size',
  'limit',
  'from',
  'to',
  'clientId',
  'version',
  'year',
  'source',
  'minTotalCents',
  'q[]',
  'q[x]',
  'Q',
  '',
  'cursor',
  '__proto__',
]

/** A query string (without `?`): 0 to 5 pairs, repeated names included. */
export const queryString: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...QUERY_NAMES), component(fc.string({ maxLength: 6 }))),
      fc.option(component(text), { nil: undefined }),
    ),
    { maxLength: 5 },
  )
  .map((pairs) => pairs.map(([name, value]) => (value === undefined ? name : `${name}=${value}`)).join('&'))

/** Ids the example has (1..count) and every wrong shape of one. */
export const idSegment = (count: number): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: count }).map(String), weight: 4 },
    { arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String), weight: 2 },
    { arbitrary: component(text), weight: 3 },
  )

const ENDPOINTS = [
  '/invoices',
  '/clients',
  '/clients/1',
  '/search',
  '/autocomplete',
  '/reports/monthly',
  '/dashboard',
  '/dashboard/stream',
  '/health',
  '/metrics',
]

/** A request target: an endpoint (with or without a query), an invoice, or a wrong path. */
export const target = (count: number): fc.Arbitrary<string> =>
  fc.oneof(
    {
      arbitrary: fc
        .tuple(fc.constantFrom(...ENDPOINTS), fc.option(queryString, { nil: undefined }))
        .map(([path, query]) => (query === undefined ? path : `${path}?${query}`)),
      weight: 8,
    },
    {
      arbitrary: fc
        .tuple(idSegment(count), fc.option(queryString, { nil: undefined }))
        .map(([id, query]) => `/invoices/${id}${query === undefined ? '' : `?${query}`}`),
      weight: 6,
    },
    {
      arbitrary: fc.constantFrom(
        '/',
        '/invoices',
        '/invoices/',
        '/invoices/1/',
        '/invoices/1/lines',
        '//invoices/1',
        '/invoices/%2e%2e/health',
        '/invoices/..%2F..%2Fetc%2Fpasswd',
        '/search/',
        '/SEARCH?q=x',
        '/search;q=x',
        '/search?',
        '/search?&&&',
        '/search?q',
        '/search?=x',
        '/search#frag',
        '*',
        'http://127.0.0.1/invoices/1',
        `/${'a'.repeat(9_000)}`,
        `/search?q=${'a'.repeat(9_000)}`,
      ),
      weight: 2,
    },
    {
      arbitrary: fc
        .array(component(fc.string({ maxLength: 8 })), { maxLength: 4 })
        .map((s) => `/${s.join('/')}`),
      weight: 1,
    },
  )

/** A value of a PATCH field: right or wrong type, edge strings, nested things. */
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: text, weight: 6 },
  { arbitrary: fc.constantFrom(...STATUSES), weight: 2 },
  { arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 63), fc.constant(-0)), weight: 1 },
  { arbitrary: fc.constantFrom(null, true, false), weight: 1 },
  { arbitrary: fc.array(text, { maxLength: 3 }), weight: 1 },
  { arbitrary: fc.dictionary(fc.string({ maxLength: 4 }), text, { maxKeys: 3 }), weight: 1 },
)

/** A valid patch (the accepted path must keep working while the rest is refused). */
const validPatch = fc
  .record(
    {
      status: fc.constantFrom(...STATUSES),
      description: fc.constantFrom(
        'Revisión anual de climatización',
        'Mantenimiento urgente del ascensor',
        'Auditoría 😀',
      ),
      dueAt: fc
        .date({ min: new Date('2020-01-01'), max: new Date('2030-12-31'), noInvalidDate: true })
        .map((d) => d.toISOString().slice(0, 10)),
    },
    { requiredKeys: [] },
  )
  .filter((patch) => Object.keys(patch).length > 0)

/** A body, as bytes, with the content type it claims. */
export const body: fc.Arbitrary<{ bytes: Buffer; type: string | undefined }> = fc
  .tuple(
    fc.oneof(
      { arbitrary: validPatch.map((p) => Buffer.from(JSON.stringify(p))), weight: 5 },
      {
        arbitrary: fc
          .dictionary(
            fc.oneof(
              fc.constantFrom('status', 'description', 'dueAt', '__proto__', 'constructor'),
              fc.string({ maxLength: 6 }),
            ),
            fieldValue,
            { maxKeys: 4 },
          )
          .map((o) => Buffer.from(JSON.stringify(o))),
        weight: 5,
      },
      {
        // Repeated keys (JSON.parse would keep the last).
        arbitrary: fc
          .tuple(fc.constantFrom('status', 'description', 'dueAt'), fieldValue, fieldValue)
          .map(([key, a, b]) =>
            Buffer.from(`{"${key}":${JSON.stringify(a) ?? 'null'},"${key}":${JSON.stringify(b) ?? 'null'}}`),
          ),
        weight: 1,
      },
      {
        // Invalid UTF-8 inside a string value.
        arbitrary: fc
          .tuple(
            fc.constantFrom('status', 'description', 'dueAt'),
            fc.uint8Array({ minLength: 1, maxLength: 6 }),
          )
          .map(([key, bytes]) =>
            Buffer.concat([
              Buffer.from(`{"${key}":"caf`),
              Buffer.from([0xc3]),
              Buffer.from(bytes),
              Buffer.from('"}'),
            ]),
          ),
        weight: 2,
      },
      {
        // Broken or odd JSON, scalars, deep nesting, big bodies, random bytes.
        arbitrary: fc
          .oneof(
            fc.constantFrom(
              '',
              '{',
              '{"status":',
              '{"status":"paid"',
              'null',
              '1',
              '"paid"',
              'true',
              '[]',
              '[{}]',
              '{}',
              '{"a":1}x',
            ),
            fc.integer({ min: 1, max: 45_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
            fc.integer({ min: 1, max: 20_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
            fc.integer({ min: 90_000, max: 300_000 }).map((n) => `{"description":"${'a'.repeat(n)}"}`),
          )
          .map((s) => Buffer.from(s)),
        weight: 2,
      },
      { arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), weight: 1 },
    ),
    fc.oneof(
      { arbitrary: fc.constant('application/json'), weight: 8 },
      {
        arbitrary: fc.constantFrom(
          undefined,
          'application/json; charset=utf-8',
          'APPLICATION/JSON',
          'application/json; charset=latin1',
          'application/json;;;',
          'application/merge-patch+json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          '',
          'application/json\u00ff',
        ),
        weight: 2,
      },
    ),
  )
  .map(([bytes, type]) => ({ bytes, type }))

const headerName = fc
  .stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/)
  .filter(
    (name) => !/^(host|connection|content-length|transfer-encoding|content-type|expect|upgrade)$/i.test(name),
  )

/** Printable ASCII header values (what a real client sends). */
const cleanHeader = fc.oneof(
  fc.tuple(
    headerName,
    fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map((v) => v.trim()),
  ),
  fc.constantFrom<[string, string]>(
    ['Accept', 'text/event-stream'],
    ['Accept', '*/*'],
    ['Accept', 'application/json'],
    ['Accept-Encoding', 'gzip, br'],
    ['If-None-Match', '*'],
    ['X-Forwarded-For', '::1, 10.0.0.1'],
    ['Cookie', 'a=b; __proto__=x'],
    ['Authorization', 'Bearer x'],
    ['User-Agent', 'fuzz/1.0'],
  ),
)

/** Header values a parser must refuse or survive: controls, Latin-1 bytes, 20 KB, a bad name. */
const badHeader = fc.oneof(
  fc.tuple(headerName, fc.string({ unit: 'binary-ascii', maxLength: 30 })),
  fc.tuple(
    headerName,
    fc
      .uint8Array({ maxLength: 20 })
      .map((b) => Buffer.from(b.filter((x) => x !== 10 && x !== 13)).toString('latin1')),
  ),
  fc.constantFrom<[string, string]>(
    ['X-Big', 'x'.repeat(20_000)],
    ['X-Bare-CR', 'a\rb'],
    ['Bad Name', 'x'],
    ['X-Nul', 'a\u0000b'],
    ['X-Latin1', 'caf\u00e9'],
  ),
)

/** Extra headers: mostly clean ones, one request in five with a bad one among them. */
const headers: fc.Arbitrary<Array<[string, string]>> = fc.oneof(
  { arbitrary: fc.array(cleanHeader, { maxLength: 3 }), weight: 4 },
  {
    arbitrary: fc
      .tuple(fc.array(cleanHeader, { maxLength: 2 }), badHeader)
      .map(([clean, bad]) => [...clean, bad]),
    weight: 1,
  },
)

const METHOD = fc.oneof(
  { arbitrary: fc.constant('GET'), weight: 10 },
  { arbitrary: fc.constant('PATCH'), weight: 7 },
  { arbitrary: fc.constantFrom('HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'), weight: 2 },
  { arbitrary: fc.constantFrom('patch', 'TRACE', 'CONNECT', 'PROPFIND', 'G ET', 'ÿ'), weight: 1 },
)

/** One whole request. */
export const request = (count: number): fc.Arbitrary<RawRequest> =>
  fc
    .tuple(
      METHOD,
      target(count),
      // A PATCH mostly goes to an invoice (the only route that writes).
      fc.tuple(idSegment(count), fc.option(queryString, { freq: 8, nil: undefined })),
      headers,
      fc.option(body, { freq: 3, nil: undefined }),
      fc.option(fc.integer({ min: 1, max: 64 }), { freq: 4, nil: undefined }),
      // One request in ten breaks its framing (a GET with a body, both Content-Length and chunked).
      fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    )
    .map(([method, anyPath, [id, query], extra, payload, chunked, framingConflict]) => {
      const path =
        method === 'PATCH' && !framingConflict
          ? `/invoices/${id}${query === undefined ? '' : `?${query}`}`
          : anyPath
      // PATCH usually carries a body; a GET rarely does.
      const withBody = payload !== undefined && (method !== 'GET' || framingConflict)
      const all: Array<[string, string]> = [...extra]
      if (withBody && payload.type !== undefined) all.push(['Content-Type', payload.type])
      // Both framings at once (request smuggling): the parser must refuse it.
      if (withBody && framingConflict && chunked === undefined && method === 'PATCH') {
        all.push(['Transfer-Encoding', 'chunked'])
      }
      return {
        method,
        target: path,
        headers: all,
        body: withBody ? payload.bytes : undefined,
        chunked: withBody ? chunked : undefined,
      }
    })
