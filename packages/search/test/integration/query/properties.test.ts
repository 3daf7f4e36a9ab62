/**
 * Property tests of the search package's public inputs on the real engines (fast-check;
 * FUZZ_RUNS cases per property, default 300; the counts are printed).
 *
 * - User text with the Lucene syntax in it (operator characters and words, unbalanced quotes
 *   and parentheses, field prefixes, wildcards, regex slashes, lone surrogates, controls, any
 *   UTF-16, lengths at and past the index's `maxQueryLength`) in every text helper (plain and
 *   simple syntax; `autocomplete` and `prefix` on OpenSearch's Spanish preset) and in a
 *   `query_string` through `escapeQueryText`: the engine never answers a parse error (no
 *   `E_SEARCH_ENGINE`); text too long or not text is refused before any request with a typed
 *   error (`E_SEARCH_QUERY_TOO_LONG`, `E_SEARCH_INVALID_VALUE`).
 * - Cursors: a real cursor edited character by character (replaced, deleted, inserted,
 *   truncated, extended, swapped) is refused with `E_SEARCH_INVALID_CURSOR` before any request;
 *   one rebuilt with `encodeCursor` around altered state (another point in time, search_after
 *   values of other types, keep-alives out of range, another shape or index) is refused with
 *   `E_SEARCH_INVALID_CURSOR` too, or continues as a valid cursor (same hits as the real one,
 *   when only the keep-alive changed); never another error. The real cursor still continues
 *   afterwards.
 */
import { uniqueName } from '@ayala/testkit'
import type { Client } from '@elastic/elasticsearch'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CursorState, escapeQueryText, type SearchClient, SearchError } from '../../../src/index.js'
import { decodeCursor, encodeCursor } from '../../../src/paging/cursor.js'
import { clientFor, ENGINES, loadDocs } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices, spanishInvoices } from '../../helpers/invoices.js'

const RUNS = Number(process.env.FUZZ_RUNS || 300)
const COUNT = 60
const counts: string[] = []

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))

const SYNTAX = [
  'AND',
  'OR',
  'NOT',
  'a AND',
  'OR b',
  'NOT NOT',
  '&&',
  '||',
  '!',
  '+',
  '-',
  '"',
  '"unclosed',
  'a "b',
  '(',
  ')',
  '(a OR b',
  'a)',
  '{',
  '[a TO',
  '[* TO *]',
  'a:b',
  'description:x',
  '_exists_:notes',
  '*',
  '?',
  'a*b?',
  '/regex.*/',
  '/',
  '\\',
  '\\\\',
  'a~',
  'a~2',
  '"a b"~3',
  'x^2',
  '^',
  '<',
  '>',
  '=',
  '\u3000OR\u3000',
  'a\u00a0OR b',
  '\ud800',
  'x\udfffy',
  '\u0000',
  '\u2028',
  '😀',
  'mantenimiento',
  'consultoría',
  'pequeño',
]

/** Text mixing the query syntax with words and noise, up to (and sometimes past) 256 characters. */
const userText: fc.Arbitrary<string> = fc.oneof(
  {
    arbitrary: fc.array(fc.constantFrom(...SYNTAX), { minLength: 1, maxLength: 8 }).map((t) => t.join(' ')),
    weight: 4,
  },
  {
    arbitrary: fc.array(fc.constantFrom(...SYNTAX), { minLength: 1, maxLength: 8 }).map((t) => t.join('')),
    weight: 2,
  },
  { arbitrary: fc.string({ unit: codeUnit, maxLength: 60 }), weight: 2 },
  {
    arbitrary: fc.string({ unit: fc.constantFrom(...'+-=&|!(){}[]^"~*?:\\/<> ANDORT'), maxLength: 80 }),
    weight: 2,
  },
  {
    arbitrary: fc
      .tuple(fc.constantFrom(...SYNTAX), fc.integer({ min: 200, max: 300 }))
      .map(([t, n]) => t.repeat(Math.ceil(n / t.length)).slice(0, n)),
    weight: 1,
  },
)

/** What a rejection may be: typed, before the engine; never the engine's parse error. */
const REFUSALS = new Set(['E_SEARCH_QUERY_TOO_LONG', 'E_SEARCH_INVALID_VALUE'])

async function property<T>(
  label: string,
  arbitrary: fc.Arbitrary<T>,
  run: (value: T) => Promise<void>,
): Promise<void> {
  let cases = 0
  await fc.assert(
    fc.asyncProperty(arbitrary, async (input) => {
      cases++
      await run(input)
    }),
    { numRuns: RUNS },
  )
  counts.push(`${label}: ${cases}`)
}

afterAll(() => console.log(`[property] search on real engines, cases tried: ${counts.join(', ')}`))

describe.each(ENGINES)('search inputs on $engine', ({ engine }) => {
  const invoices = basicInvoices(uniqueName('prop'))
  const spanish = spanishInvoices(uniqueName('prop-es'))
  let search: SearchClient
  let raw: Client

  beforeAll(async () => {
    search = clientFor(engine)
    raw = await search.raw()
    await search.createIndex(invoices)
    await loadDocs(
      raw,
      invoices.name,
      Array.from({ length: COUNT }, (_, i) => basicInvoice(i)),
    )
    if (engine === 'opensearch') {
      await search.createIndex(spanish)
      await loadDocs(
        raw,
        spanish.name,
        Array.from({ length: COUNT }, (_, i) => ({
          id: `s${i}`,
          number: `FAC-2026-${String(i).padStart(6, '0')}`,
          taxId: `B${String(10_000_000 + i)}`,
          description: basicInvoice(i).description,
          clientName: basicInvoice(i).clientName,
          client: basicInvoice(i).clientName,
          status: 'paid',
          issuedAt: basicInvoice(i).issuedAt,
          total: 10,
          paid: true,
          suggest: basicInvoice(i).description,
        })),
      )
    }
  })

  afterAll(async () => {
    await search.deleteIndex(invoices.name)
    if (engine === 'opensearch') await search.deleteIndex(spanish.name)
    await search.close()
  })

  it('never lets user text become an engine parse error', async () => {
    const tally = { answered: 0, refused: 0 }
    const { q } = invoices
    await property(`${engine} user text`, userText, async (text) => {
      const queries: Array<[string, () => unknown]> = [
        ['match', () => q.match('description', text)],
        ['multiMatch', () => q.multiMatch({ description: 2, clientName: 1 }, text)],
        ['match simple', () => q.match('description', text, { syntax: 'simple' })],
        ['multiMatch simple', () => q.multiMatch(['description', 'clientName'], text, { syntax: 'simple' })],
        [
          'query_string escaped',
          () => ({
            query_string: { query: escapeQueryText(text), fields: ['description'], default_operator: 'and' },
          }),
        ],
      ]
      for (const [what, build] of queries) {
        await expectNoParseError(`${what} of ${JSON.stringify(text)}`, tally, async () => {
          await search.search(invoices, { query: build() as never, size: 3 })
        })
      }
      if (engine === 'opensearch') {
        await expectNoParseError(`autocomplete of ${JSON.stringify(text)}`, tally, async () => {
          await search.search(spanish, { query: spanish.q.autocomplete('suggest', text), size: 3 })
        })
        await expectNoParseError(`prefix of ${JSON.stringify(text)}`, tally, async () => {
          await search.search(spanish, { query: spanish.q.prefix('number', text), size: 3 })
        })
      }
    })
    console.log(
      `[property] ${engine} user text: ${tally.answered} searches answered, ${tally.refused} refused before the engine (typed), 0 engine errors`,
    )
  }, 600_000)

  it('refuses every edited cursor with E_SEARCH_INVALID_CURSOR; a rebuilt one is refused or valid', async () => {
    // 60 documents hold "numero", 7 a page: the cursor of page 1 has 8 pages after it (its point in time stays open).
    const request = {
      size: 7,
      sort: ['totalCents' as const],
      query: invoices.q.match('description', 'numero'),
    }
    const first = await search.searchPage(invoices, request)
    const cursor = first.nextCursor as string
    expect(cursor).toEqual(expect.any(String))
    const truth = await search.searchPage(invoices, { ...request, cursor })
    const state = decodeCursor(cursor)
    const tally = { refused: 0, continued: 0, unchanged: 0 }

    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const edit = fc.oneof(
      fc.tuple(fc.nat(), fc.constantFrom(...B64)).map(
        ([at, c]) =>
          (s: string) =>
            s.slice(0, at % s.length) + c + s.slice((at % s.length) + 1),
      ),
      fc.nat().map((at) => (s: string) => s.slice(0, at % s.length) + s.slice((at % s.length) + 1)),
      fc.tuple(fc.nat(), fc.constantFrom(...B64, '=', '.', ' ', '%', '/')).map(
        ([at, c]) =>
          (s: string) =>
            s.slice(0, at % (s.length + 1)) + c + s.slice(at % (s.length + 1)),
      ),
      fc.nat().map((at) => (s: string) => s.slice(0, at % s.length)),
      fc
        .string({ unit: fc.constantFrom(...B64), minLength: 1, maxLength: 4 })
        .map((tail) => (s: string) => s + tail),
      fc.tuple(fc.nat(), fc.nat()).map(([i, j]) => (s: string) => {
        const a = i % s.length
        const b = j % s.length
        const chars = [...s]
        ;[chars[a], chars[b]] = [chars[b] as string, chars[a] as string]
        return chars.join('')
      }),
      fc.nat().map((at) => (s: string) => {
        const i = at % s.length
        const c = s[i] as string
        return s.slice(0, i) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + s.slice(i + 1)
      }),
    )
    await property(
      `${engine} edited cursors`,
      fc.array(edit, { minLength: 1, maxLength: 3 }),
      async (edits) => {
        const tampered = edits.reduce((s, f) => (s.length === 0 ? s : f(s)), cursor)
        if (tampered === cursor) {
          tally.unchanged++
          return
        }
        await expect(search.searchPage(invoices, { ...request, cursor: tampered })).rejects.toMatchObject({
          code: 'E_SEARCH_INVALID_CURSOR',
        })
        tally.refused++
      },
    )

    // No edited cursor reached the engine: the real one continues with the same page.
    const again = await search.searchPage(invoices, { ...request, cursor })
    expect(again.hits.map((h) => h.id)).toEqual(truth.hits.map((h) => h.id))

    const altered: fc.Arbitrary<Partial<CursorState>> = fc.oneof(
      fc.record({
        pit: fc.oneof(
          fc.string({ maxLength: 40 }).filter((p) => p.length > 0),
          fc.constant(`${state.pit}x`),
          fc.constant(state.pit.slice(1)),
        ),
      }),
      fc.record({
        after: fc.array(
          fc.oneof(fc.string({ maxLength: 8 }), fc.double(), fc.boolean(), fc.constant(null), fc.integer()),
          { minLength: 1, maxLength: 4 },
        ),
      }),
      fc.record({
        keepAliveMs: fc.oneof(
          fc.integer({ min: 1_000, max: 600_000 }),
          fc.integer({ min: 1_000, max: 600_000 }),
          fc.double({ min: 1e-3, max: 1e13, noNaN: true }),
          fc.constant(Number.MAX_VALUE),
          fc.constant(0.5),
        ),
      }),
      fc.record({ shape: fc.string({ minLength: 1, maxLength: 20 }) }),
      fc.record({
        index: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constant(`${invoices.name}*`)),
      }),
    )
    const outcomes = { refused: 0, continued: 0 }
    await property(`${engine} rebuilt cursors`, altered, async (change) => {
      const rebuilt = encodeCursor({ ...state, ...change })
      try {
        const page = await search.searchPage(invoices, { ...request, cursor: rebuilt })
        outcomes.continued++
        // Accepted: then it is a cursor of this request (only keep-alive or search_after changed).
        expect(Object.keys(change).every((k) => k === 'keepAliveMs' || k === 'after')).toBe(true)
        if ('keepAliveMs' in change) expect(page.hits.map((h) => h.id)).toEqual(truth.hits.map((h) => h.id))
      } catch (error) {
        expect(error).toBeInstanceOf(SearchError)
        expect((error as SearchError).code, (error as Error).message).toBe('E_SEARCH_INVALID_CURSOR')
        outcomes.refused++
      }
    })
    // A rebuilt cursor that reached its last page closed the (shared) point in time: close it
    // here otherwise. Already closed, the engine says so (404).
    await search.closePit(state.pit).catch((error: unknown) => expect(error).toMatchObject({ status: 404 }))
    console.log(
      `[property] ${engine} cursors: ${tally.refused} edited ones refused (${tally.unchanged} edits gave the cursor back), ` +
        `rebuilt ones ${outcomes.refused} refused and ${outcomes.continued} continued`,
    )
  }, 600_000)
})

async function expectNoParseError(
  what: string,
  tally: { answered: number; refused: number },
  run: () => Promise<void>,
) {
  try {
    await run()
    tally.answered++
  } catch (error) {
    const code = error instanceof SearchError ? error.code : undefined
    if (code === undefined || !REFUSALS.has(code)) {
      throw new Error(`${what}: ${code ?? 'untyped'} ${(error as Error).message}`, { cause: error })
    }
    tally.refused++
  }
}
