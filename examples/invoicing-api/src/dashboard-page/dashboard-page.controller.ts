/**
 * GET / : the live dashboard page. Plain HTML, one stylesheet and one small script, served from
 * `public/` as they are: no front-end build step, no framework, nothing fetched from another
 * host (the page must work offline and behind a firewall). The script opens `GET
 * /dashboard/stream` (Server-Sent Events) and redraws the figures and the chart of the last 30
 * days on every `figures` event; the browser's `EventSource` reconnects by itself when the
 * server goes away, and since every event is a full snapshot, the first event after a reconnect
 * is the whole truth again.
 *
 * The files are read once, at start-up (a missing file stops the start rather than answering
 * 404 later). The JSON API keeps its routes: only `/` and `/assets/dashboard.{js,css}` are
 * answered here, with a Content-Security-Policy that allows this origin only.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Controller, Get, Header, UseInterceptors } from '@nestjs/common'
import { InputInterceptor } from '../validation/input.ts'

const PUBLIC = join(import.meta.dirname, 'public')

/** Everything from this origin; scripts and styles from files only (no inline code). */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** The page's three files, read once. */
const FILES = {
  html: readFileSync(join(PUBLIC, 'index.html'), 'utf8'),
  js: readFileSync(join(PUBLIC, 'dashboard.js'), 'utf8'),
  css: readFileSync(join(PUBLIC, 'dashboard.css'), 'utf8'),
}

/** GET / (the page), GET /assets/dashboard.js and GET /assets/dashboard.css. No parameters. */
@Controller()
@UseInterceptors(InputInterceptor)
export class DashboardPageController {
  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', CSP)
  @Header('cache-control', 'no-cache')
  page(): string {
    return FILES.html
  }

  @Get('assets/dashboard.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'no-cache')
  script(): string {
    return FILES.js
  }

  @Get('assets/dashboard.css')
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('cache-control', 'no-cache')
  stylesheet(): string {
    return FILES.css
  }
}
