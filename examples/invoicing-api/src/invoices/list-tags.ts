/**
 * Cache tags of the invoice list pages (`GET /invoices`), so that a write drops exactly the pages
 * whose content it changes, to the day.
 *
 * A page lists, newest first, the invoices matching its filters (client, status) within a range
 * of issue dates: from its cursor's day (or `to`, or the end of the calendar) down to its last
 * item's day (or `from`, or the start of the calendar when it is the last page, which any older
 * invoice would join). An invoice changes a page when its state before or after the write
 * matches the page's filters and its issue day is within the page's range.
 *
 * The range is cut into aligned calendar blocks, largest first (days up to the first of a month,
 * months up to January, years up to a decade, decades, centuries, millennia), and the page is
 * tagged `ilist:<filter>:<block>` for each: at most a few dozen tags, whatever the range. A
 * write tags the blocks that contain its day at every level (6), for each filter it matches
 * (all, its client, its status, both: 4), before and after: at most 48 tags. A block holds a day
 * exactly when the day is in the block, so a page is dropped iff some state of the write falls on
 * a day of its range and matches its filters. The one imprecision is the boundary day of a full
 * page: it is covered whole, so a write on that day below the page's last item drops the page too.
 *
 * Pages also carry `client:<id>` of every client they show (their names are on the page): a
 * client rename drops them.
 */

/** `1000-01-01`: MariaDB's `DATE` range, the open ends of a range. */
const FIRST_DAY = '1000-01-01'
/** `9999-12-31`. */
const LAST_DAY = '9999-12-31'

/** The filters of a list page that partition it (dates only narrow its range). */
export interface ListFilter {
  clientId?: number | undefined
  status?: string | undefined
}

/** An invoice state, as far as lists are concerned. */
export interface ListedState {
  clientId: number
  status: string
  /** `YYYY-MM-DD`. */
  issuedAt: string
}

/** The filter part of a tag: which of client and status the page filters on. */
export function filterKey(filter: ListFilter): string {
  const parts: string[] = []
  if (filter.clientId !== undefined) parts.push(`c${filter.clientId}`)
  if (filter.status !== undefined) parts.push(`s${filter.status}`)
  return parts.length === 0 ? 'all' : parts.join('-')
}

interface Ymd {
  y: number
  m: number
  d: number
}

function parse(day: string): Ymd {
  return { y: Number(day.slice(0, 4)), m: Number(day.slice(5, 7)), d: Number(day.slice(8, 10)) }
}

function daysIn(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate()
}

function format({ y, m, d }: Ymd): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`
}

/** Levels coarser than a year: span in years and tag letter. */
const YEAR_LEVELS = [
  [1_000, 'M'],
  [100, 'C'],
  [10, 'D'],
] as const

/** The blocks containing `day`, one per level, day to millennium. */
export function blocksOf(day: string): string[] {
  const { y } = parse(day)
  return [
    `d${day}`,
    `m${day.slice(0, 7)}`,
    `y${y}`,
    ...YEAR_LEVELS.map(([span, letter]) => `${letter}${Math.floor(y / span)}`).reverse(),
  ]
}

/**
 * The aligned blocks covering `[from, to]` (inclusive days), largest first at each step: every
 * day of the range is in exactly one block, no day outside it is in any.
 */
export function rangeBlocks(from: string, to: string): string[] {
  if (from > to) return []
  const blocks: string[] = []
  let at = parse(from)
  const end = to
  while (format(at) <= end) {
    const next = largestBlock(at, end)
    blocks.push(next.tag)
    if (next.last >= end) break
    at = dayAfter(parse(next.last))
  }
  return blocks
}

function dayAfter({ y, m, d }: Ymd): Ymd {
  if (d < daysIn(y, m)) return { y, m, d: d + 1 }
  if (m < 12) return { y, m: m + 1, d: 1 }
  return { y: y + 1, m: 1, d: 1 }
}

/** The largest block starting at `at` that ends on or before `end`. */
function largestBlock(at: Ymd, end: string): { tag: string; last: string } {
  if (at.m === 1 && at.d === 1) {
    for (const [span, letter] of YEAR_LEVELS) {
      if (at.y % span !== 0) continue
      const last = `${String(at.y + span - 1).padStart(4, '0')}-12-31`
      if (last <= end) return { tag: `${letter}${at.y / span}`, last }
    }
    const last = `${String(at.y).padStart(4, '0')}-12-31`
    if (last <= end) return { tag: `y${at.y}`, last }
  }
  if (at.d === 1) {
    const last = format({ y: at.y, m: at.m, d: daysIn(at.y, at.m) })
    if (last <= end) return { tag: `m${last.slice(0, 7)}`, last }
  }
  const day = format(at)
  return { tag: `d${day}`, last: day }
}

/** The issue-date range a page covers (see the module note). */
export interface PageRange {
  /** Oldest day covered. */
  from: string
  /** Newest day covered. */
  to: string
}

/**
 * The range of a page: `to` is the cursor's day, else the `to` filter, else the calendar's end;
 * `from` is the last item's day when more items follow, else the `from` filter, else the
 * calendar's start.
 */
export function pageRange(
  filter: { from?: string | undefined; to?: string | undefined },
  cursorDay: string | undefined,
  lastDay: string | undefined,
  more: boolean,
): PageRange {
  const top = [cursorDay, filter.to].filter((v): v is string => v !== undefined).sort()[0] ?? LAST_DAY
  const bottom = more && lastDay !== undefined ? lastDay : (filter.from ?? FIRST_DAY)
  return { from: bottom, to: top }
}

/** The tags of a page with `range` under `filter`, showing `clientIds`. */
export function pageTags(filter: ListFilter, range: PageRange, clientIds: Iterable<number>): string[] {
  const key = filterKey(filter)
  const tags = rangeBlocks(range.from, range.to).map((block) => `ilist:${key}:${block}`)
  for (const id of new Set(clientIds)) tags.push(`client:${id}`)
  return tags
}

/** The list tags a write of an invoice from `before` to `after` invalidates (either may be absent). */
export function writeTags(...states: Array<ListedState | null | undefined>): string[] {
  const tags = new Set<string>()
  for (const state of states) {
    if (state === null || state === undefined) continue
    const keys = [
      'all',
      filterKey({ clientId: state.clientId }),
      filterKey({ status: state.status }),
      filterKey({ clientId: state.clientId, status: state.status }),
    ]
    const blocks = blocksOf(state.issuedAt)
    for (const key of keys) for (const block of blocks) tags.add(`ilist:${key}:${block}`)
  }
  return [...tags]
}
