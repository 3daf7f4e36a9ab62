/**
 * Docs that compile: every ```ts snippet of the READMEs (root, packages/*, examples/*) and of
 * docs/*.md is type-checked as one ES module against the built packages (dist/, through their
 * `exports` maps, as from npm), with the workspace's strict options and decorator metadata, in
 * one TypeScript program; every error is reported as `page:line`. The conventions (hidden
 * preludes, `nocheck`, `file:` snippets of a fixture app) are in docs/toolchain.md
 * ("Snippets that compile") and test/helpers/snippets.ts.
 *
 * A `file:` snippet is a file of a fixture app under tools/smoke/fixtures, shown verbatim: the
 * page and the app cannot drift apart (docs/getting-started-nestjs.md is the app the
 * pack-and-install test builds and runs).
 *
 * Needs `pnpm build` first (scripts/test.sh builds before the tests).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { fixturesDir, repoRoot } from '../helpers/packed.js'
import {
  type CheckResult,
  contextDir,
  documentedPages,
  extractSnippets,
  formatProblem,
  hiddenImports,
  type Snippet,
  typeCheck,
} from '../helpers/snippets.js'

/**
 * Snippets left unchecked, at most. Raising it is a decision: say why in the snippet's
 * `nocheck:` reason.
 */
const NOCHECK_BUDGET = 3

const pages = documentedPages()
const extracted = pages.map((page) => ({ page, ...extractSnippets(page) }))
const snippets = extracted.flatMap((entry) => entry.snippets)
const pagesWithSnippets = extracted.filter((entry) => entry.snippets.length > 0).map((entry) => entry.page)

/** Every file of a fixture app a page shows (`file:` snippets), with where it is shown. */
function shownFixtureFiles(): { path: string; page: string; line: number }[] {
  return snippets
    .filter((snippet): snippet is Snippet & { file: string } => snippet.file !== undefined)
    .map((snippet) => ({ path: join(fixturesDir, snippet.file), page: snippet.page, line: snippet.line }))
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

let result: CheckResult

beforeAll(() => {
  for (const pkg of readdirSync(join(repoRoot, 'packages'))) {
    if (!existsSync(join(repoRoot, 'packages', pkg, 'dist', 'index.d.ts')))
      throw new Error(
        `packages/${pkg}/dist is missing: the snippets compile against the built packages (pnpm build)`,
      )
  }
  result = typeCheck(
    snippets,
    shownFixtureFiles().filter((file) => existsSync(file.path)),
  )
  const unchecked = snippets.filter((snippet) => snippet.nocheck !== undefined).length
  const files = snippets.filter((snippet) => snippet.file !== undefined).length
  console.log(
    `doc snippets: ${snippets.length} in ${pagesWithSnippets.length} pages, ${snippets.length - unchecked - files} type-checked as snippets, ${files} as fixture files, ${unchecked} nocheck; ${result.files} files compiled`,
  )
}, 120_000)

describe('extraction', () => {
  it('finds the snippets of the READMEs and docs/', () => {
    expect(pages).toContain('README.md')
    expect(pages).toContain('packages/nestjs/README.md')
    expect(pages).toContain('docs/nestjs-health.md')
    expect(snippets.length).toBeGreaterThan(80)
  })

  it('finds every directive attached to a fence, and no unknown one', () => {
    expect(extracted.flatMap((entry) => entry.problems).map(formatProblem)).toEqual([])
  })

  it(`leaves at most ${NOCHECK_BUDGET} snippets unchecked, each with its reason`, () => {
    const unchecked = snippets.filter((snippet) => snippet.nocheck !== undefined)
    for (const snippet of unchecked) expect(snippet.nocheck, `${snippet.page}:${snippet.line}`).not.toBe('')
    const list = unchecked.map((s) => `${s.page}:${s.line}: ${s.nocheck}`).join('\n')
    expect(unchecked.length, list).toBeLessThanOrEqual(NOCHECK_BUDGET)
  })

  it('lets preludes import from @ayala/* only names a visible snippet of the page imports', () => {
    expect(extracted.flatMap((entry) => hiddenImports(entry.snippets)).map(formatProblem)).toEqual([])
  })
})

describe.each(pagesWithSnippets)('%s', (page) => {
  it('type-checks every snippet', () => {
    expect(result.problems.filter((problem) => problem.page === page).map(formatProblem)).toEqual([])
  })
})

describe('what the snippets stand on', () => {
  it('type-checks the doc-context modules (the reader app the preludes import)', () => {
    const own = relative(repoRoot, contextDir)
    expect(result.problems.filter((problem) => problem.page.startsWith(own)).map(formatProblem)).toEqual([])
    expect(
      result.problems.filter((problem) => problem.page === 'compiler options').map(formatProblem),
    ).toEqual([])
  })

  it('shows each fixture app a page refers to whole and verbatim (file: snippets)', () => {
    const shown = shownFixtureFiles()
    const mismatches: string[] = []
    for (const { path, page, line } of shown) {
      const snippet = snippets.find((s) => s.page === page && s.line === line)
      const text = snippet?.body.map((l) => l.text).join('\n') ?? ''
      if (!existsSync(path)) mismatches.push(`${page}:${line}: ${relative(repoRoot, path)} does not exist`)
      else if (readFileSync(path, 'utf8').trimEnd() !== text.trimEnd())
        mismatches.push(
          `${page}:${line}: differs from ${relative(repoRoot, path)} (the page must show the file as it is)`,
        )
    }
    // Every source file of a fixture app a page shows part of is shown.
    const apps = new Set(shown.map((file) => relative(fixturesDir, file.path).split('/')[0] ?? ''))
    for (const app of apps) {
      for (const path of filesUnder(join(fixturesDir, app))) {
        if (path.endsWith('.ts') && !shown.some((file) => file.path === path))
          mismatches.push(`${relative(repoRoot, path)} is not shown by any page (add a file: snippet)`)
      }
    }
    expect(mismatches).toEqual([])
  })
})

describe('the checker itself', () => {
  // A page of its own, checked alone: an error is reported at its page line, a prelude is
  // compiled with its snippet, a wrapped fragment inside its prelude, a hidden import refused.
  const page = 'docs/self-test.md'
  const markdown = [
    '# Self test', // 1
    '', // 2
    '<!-- prelude: const answer: number = 42 -->', // 3
    '```ts', // 4
    'const text: string = answer', // 5: an error
    '```', // 6
    '', // 7
    '<!-- prelude', // 8
    'class Holder {', // 9
    '  value = 1', // 10
    '  read() {', // 11
    '/* snippet */', // 12
    '  }', // 13
    '}', // 14
    '-->', // 15
    '```typescript', // 16
    'return this.value', // 17: fine inside the class
    '```', // 18
    '', // 19
    "<!-- prelude: import { createCache } from '@ayala/cache' -->", // 20: hidden import
    '```ts', // 21
    'createCache({})', // 22
    '```', // 23
    '<!-- nocheck: shown as an example of a fragment -->', // 24
    '```ts', // 25
    'this is not TypeScript', // 26
    '```', // 27
    '<!-- prelude: dangling -->', // 28: no fence after it
  ].join('\n')

  it('reports errors at the page line, compiles preludes and wrappers, refuses hidden imports', () => {
    const { snippets: own, problems } = extractSnippets(page, markdown)
    expect(own.map((s) => s.line)).toEqual([4, 16, 21, 25])
    expect(own[3]?.nocheck).toBe('shown as an example of a fragment')
    expect(problems.map(formatProblem)).toEqual([
      'docs/self-test.md:28: "prelude" comment not on the line right before a ```ts fence',
    ])
    const checked = typeCheck(own)
    const mine = checked.problems.filter((problem) => problem.page === page).map(formatProblem)
    expect(mine).toEqual(["docs/self-test.md:5: TS2322: Type 'number' is not assignable to type 'string'."])
    expect(hiddenImports(own).map(formatProblem)).toEqual([
      'docs/self-test.md:20: the prelude imports createCache from @ayala/cache, which no snippet of this page shows: import it in a visible snippet',
    ])
  }, 60_000)
})
