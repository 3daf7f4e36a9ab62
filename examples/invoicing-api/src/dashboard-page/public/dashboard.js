/**
 * The live dashboard page's script (served as is: no build step, no dependency). It listens to
 * `GET /dashboard/stream` and redraws everything from each `figures` event, which is a full
 * snapshot: there is no client-side state to get out of step.
 *
 * - Figures it knows: `invoices` (count), `countByStatus` and `totalByStatus` (the table and the
 *   total). Any other figure is drawn by its shape: a number is a card; an object keyed by UTC
 *   days (`2026-11-27`) is a bar chart of the 30 days ending today (a missing day is 0); any
 *   other object or an array is a small table. New figures of the API appear without a change
 *   here.
 * - Every drawn value carries its raw number in `data-value` (cents for amounts), so a test
 *   compares what the page shows with SQL without parsing formatted text.
 * - Connection state (`data-connection` on `#connection`): `connecting`, `live`, `stale` (Redis
 *   could not answer: the last figures, with their age), `rebuilding`, `incomplete`, `missing`,
 *   `reconnecting` (the stream dropped; `EventSource` retries by itself) or `unavailable` (the
 *   server refused the stream; retried every 3 s).
 */
;(() => {
  const KNOWN = new Set(['invoices', 'countByStatus', 'totalByStatus'])
  const DAY = /^\d{4}-\d{2}-\d{2}$/
  const DAYS = 30
  const DAY_MS = 86_400_000
  const SVG = 'http://www.w3.org/2000/svg'
  const count = new Intl.NumberFormat('en-US')
  const money = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })

  /** Amounts are integer cents; a figure is an amount when its name says so. */
  const isAmount = (name) => /total|cents|amount|ticket/i.test(name)
  const format = (name, value) =>
    typeof value !== 'number'
      ? String(value)
      : isAmount(name)
        ? money.format(value / 100)
        : count.format(value)
  /** `totalByStatus` -> `total by status`. */
  const words = (name) => name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase()

  function element(tag, attributes = {}, text) {
    const node = document.createElement(tag)
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value))
    if (text !== undefined) node.textContent = text
    return node
  }

  function svg(tag, attributes = {}, text) {
    const node = document.createElementNS(SVG, tag)
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value))
    if (text !== undefined) node.textContent = text
    return node
  }

  function setConnection(state, text) {
    const box = document.getElementById('connection')
    box.dataset.connection = state
    document.getElementById('connection-text').textContent = text
  }

  function setFigure(id, name, value) {
    const output = document.getElementById(id)
    output.dataset.value = String(value)
    output.textContent = format(name, value)
  }

  /** A number for a bar: the value, or the sum of a nested object's numbers (e.g. by status). */
  function magnitude(value) {
    if (typeof value === 'number') return value
    if (value !== null && typeof value === 'object') {
      return Object.values(value).reduce((sum, v) => sum + magnitude(v), 0)
    }
    return 0
  }

  const isDayFigure = (value) =>
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).length > 0 &&
    Object.keys(value).every((key) => DAY.test(key))

  /** The 30 UTC days ending today (or at the figure's last day, if later). */
  function lastDays(figure) {
    const today = new Date().toISOString().slice(0, 10)
    // Day labels sort in time order.
    const last = [today, ...Object.keys(figure)].sort().at(-1)
    const end = Date.parse(`${last}T00:00:00Z`)
    return Array.from({ length: DAYS }, (_, i) =>
      new Date(end - (DAYS - 1 - i) * DAY_MS).toISOString().slice(0, 10),
    )
  }

  /** An inline SVG bar chart of one per-day figure. */
  function chart(name, figure) {
    const days = lastDays(figure)
    const values = days.map((day) => magnitude(figure[day] ?? 0))
    const max = Math.max(1, ...values)
    const width = 720
    const height = 190
    const left = 78
    const bottom = 22
    const top = 10
    const plot = width - left - 8
    const step = plot / days.length
    const scale = (height - top - bottom) / max
    const today = new Date().toISOString().slice(0, 10)
    const root = svg('svg', {
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': `${words(name)}, last ${DAYS} days`,
      'data-chart': name,
    })
    root.append(
      svg('line', { x1: left, x2: width - 8, y1: height - bottom, y2: height - bottom }),
      svg('line', { x1: left, x2: width - 8, y1: top, y2: top }),
      svg('text', { x: left - 6, y: top + 4, 'text-anchor': 'end' }, format(name, max)),
      svg('text', { x: left - 6, y: height - bottom + 4, 'text-anchor': 'end' }, '0'),
    )
    days.forEach((day, i) => {
      const value = values[i]
      const h = Math.max(value > 0 ? 1 : 0, value * scale)
      const x = left + i * step + 1
      const bar = svg('rect', {
        x: x.toFixed(1),
        y: (height - bottom - h).toFixed(1),
        width: Math.max(1, step - 2).toFixed(1),
        height: h.toFixed(1),
        'data-day': day,
        'data-value': value,
        class: day === today ? 'today' : '',
      })
      bar.append(svg('title', {}, `${day}: ${format(name, value)}`))
      root.append(bar)
      if (i % 5 === 0 || i === days.length - 1) {
        root.append(
          svg('text', { x: (x + step / 2).toFixed(1), y: height - 6, 'text-anchor': 'middle' }, day.slice(5)),
        )
      }
    })
    const box = element('figure', { class: 'chart', 'data-figure': name })
    box.append(element('h3', {}, words(name)), root)
    return box
  }

  /** A table of an object (key -> value) or an array of rows. */
  function table(name, value) {
    const box = element('div', { 'data-figure': name })
    box.append(element('h2', {}, words(name)))
    const rows = Array.isArray(value)
      ? value
      : Object.entries(value)
          .map(([key, v]) => ({ key, value: v }))
          .sort((a, b) => magnitude(b.value) - magnitude(a.value))
    const columns = [
      ...new Set(
        rows.flatMap((row) => (row !== null && typeof row === 'object' ? Object.keys(row) : ['value'])),
      ),
    ]
    const t = element('table')
    const head = element('tr')
    for (const column of columns) head.append(element('th', { scope: 'col' }, words(column)))
    t.append(element('thead'), element('tbody'))
    t.tHead.append(head)
    for (const row of rows) {
      const tr = element('tr')
      for (const column of columns) {
        const cell = row !== null && typeof row === 'object' ? row[column] : row
        const shown = column === 'value' ? name : column
        const td = element('td', typeof cell === 'number' ? { 'data-value': cell } : { class: 'text' })
        td.textContent =
          cell === undefined ? '' : typeof cell === 'object' ? JSON.stringify(cell) : format(shown, cell)
        tr.append(td)
      }
      t.tBodies[0].append(tr)
    }
    box.append(t)
    return box
  }

  function card(name, label, value) {
    const box = element('article', { class: 'card' })
    box.append(
      element('h2', {}, label),
      element('output', { 'data-figure': name, 'data-value': value }, format(name, value)),
    )
    return box
  }

  /**
   * The API's summary (`GET /dashboard`'s `summary`, also on every stream event): today, this
   * month with its distinct clients, the last 30 days (zeros included) and the top clients.
   */
  function renderSummary(summary, cards, charts, tables) {
    cards.append(
      card('todayInvoices', `Today (${summary.date})`, summary.today.invoices),
      card('todayTotal', 'Total today', summary.today.totalCents),
      card('monthInvoices', `This month (${summary.thisMonth.month})`, summary.thisMonth.invoices),
      card('monthTotal', 'Total this month', summary.thisMonth.totalCents),
      card('monthClients', 'Clients this month', summary.thisMonth.clients),
    )
    const perDay = (key) => Object.fromEntries(summary.last30Days.map((day) => [day.date, day[key]]))
    charts.append(chart('invoicesPerDay', perDay('invoices')), chart('totalPerDay', perDay('totalCents')))
    tables.append(
      table(
        'topClients',
        summary.topClients.map((client, i) => ({
          rank: i + 1,
          client: client.name ?? `#${client.clientId}`,
          total: client.totalCents,
        })),
      ),
    )
  }

  function render(snapshot) {
    const figures = snapshot.figures ?? {}
    const byCount = figures.countByStatus ?? {}
    const byTotal = figures.totalByStatus ?? {}
    setFigure('figure-invoices', 'invoices', figures.invoices ?? 0)
    setFigure(
      'figure-total',
      'total',
      Object.values(byTotal).reduce((sum, v) => sum + v, 0),
    )

    const body = document.querySelector('#by-status tbody')
    body.replaceChildren()
    for (const status of [...new Set([...Object.keys(byCount), ...Object.keys(byTotal)])].sort()) {
      const row = element('tr', { 'data-status': status })
      row.append(
        element('td', {}, status),
        element(
          'td',
          { 'data-value': byCount[status] ?? 0, 'data-column': 'count' },
          format('count', byCount[status] ?? 0),
        ),
        element(
          'td',
          { 'data-value': byTotal[status] ?? 0, 'data-column': 'total' },
          format('total', byTotal[status] ?? 0),
        ),
      )
      body.append(row)
    }

    const cards = document.getElementById('extra-cards')
    const charts = document.getElementById('charts')
    const tables = document.getElementById('tables')
    cards.replaceChildren()
    charts.replaceChildren()
    tables.replaceChildren()
    const summary = snapshot.summary
    if (summary !== undefined) renderSummary(summary, cards, charts, tables)
    // Without the API's summary, every other figure is drawn by its shape.
    for (const [name, value] of summary === undefined ? Object.entries(figures) : []) {
      if (KNOWN.has(name)) continue
      if (typeof value === 'number') {
        const card = element('article', { class: 'card' })
        const output = element('output', { 'data-figure': name, 'data-value': value }, format(name, value))
        card.append(element('h2', {}, words(name)), output)
        cards.append(card)
      } else if (isDayFigure(value)) {
        charts.append(chart(name, value))
      } else if (value !== null && typeof value === 'object') {
        tables.append(table(name, value))
      }
    }
    if (charts.childElementCount === 0) {
      charts.append(element('p', { class: 'empty' }, 'No per-day figure in the dashboard.'))
    }

    if (snapshot.stale) {
      setConnection(
        'stale',
        `stale: figures as of ${Math.round((snapshot.ageMs ?? 0) / 1000)} s ago (${snapshot.staleReason ?? 'Redis'})`,
      )
    } else if (snapshot.status && snapshot.status !== 'live') {
      setConnection(snapshot.status, `${snapshot.status}${snapshot.reason ? ` (${snapshot.reason})` : ''}`)
    } else {
      setConnection('live', 'live')
    }
    document.body.dataset.version = String(snapshot.version)
    document.body.dataset.updates = String(Number(document.body.dataset.updates ?? 0) + 1)
    document.getElementById('updated').textContent =
      `updated ${new Date().toLocaleTimeString('en-GB')} (version ${snapshot.version})`
  }

  function connect() {
    const source = new EventSource('/dashboard/stream')
    source.addEventListener('figures', (event) => render(JSON.parse(event.data)))
    source.addEventListener('status', (event) => {
      const data = JSON.parse(event.data)
      if (data.status === 'unavailable')
        setConnection('unavailable', 'unavailable: Redis cannot answer; retrying')
    })
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // The server answered without a stream (a 503): EventSource gives up; try again later.
        setConnection('unavailable', 'unavailable: retrying in 3 s')
        setTimeout(connect, 3_000)
      } else {
        setConnection('reconnecting', 'reconnecting…')
      }
    })
  }

  connect()
})()
