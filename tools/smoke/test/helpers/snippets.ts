/**
 * The TypeScript snippets of the documentation, extracted and type-checked as a user would paste
 * them (the convention is written in docs/toolchain.md#snippets-that-compile):
 *
 * - every ```ts / ```typescript fence of README.md, packages/* /README.md, examples/* /README.md
 *   and docs/*.md is one ES module, compiled with the workspace's strict options plus decorators
 *   (`experimentalDecorators`, `emitDecoratorMetadata`, as a Nest app), against the built
 *   packages (`dist/`, through each package's `exports` map, as from npm);
 * - an HTML comment on the line right before a fence adds to it, unseen by readers:
 *   `<!-- prelude ... -->` is code put before the snippet (what it assumes: `declare const db: Db`,
 *   an import of the reader's app from `#context/<name>`, i.e. tools/smoke/doc-context/<name>.ts);
 *   a prelude line `/* snippet *\/` puts the rest of the prelude after the snippet (a fragment,
 *   such as the checks of a health controller, compiled inside its class);
 *   `<!-- nocheck: reason -->` leaves the snippet out (counted, the reason required);
 *   `<!-- file: <path> -->` says the snippet is that file of a fixture app, verbatim
 *   (docs/getting-started-nestjs.md and tools/smoke/fixtures/getting-started);
 * - a prelude may import from `@ayala/*` only names that a visible snippet of the same page
 *   imports from the same module: the reader sees every import path the page relies on.
 *
 * One `ts.createProgram` over every snippet (virtual files under tools/smoke/.doc-snippets/,
 * never written to disk), the context modules and the fixture files; each diagnostic is mapped
 * back to the page and line it came from.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { repoRoot } from './packed.js'

export const smokeRoot = join(repoRoot, 'tools', 'smoke')
/** The reader's app the preludes import from (`#context/<name>`). */
export const contextDir = join(smokeRoot, 'doc-context')
/** Where the snippets' virtual files live, for module resolution (tools/smoke/node_modules). */
const virtualDir = join(smokeRoot, '.doc-snippets')

/** One line of code taken from a page, with the page line it came from (1-based). */
interface SourceLine {
  text: string
  line: number
}

/** One ```ts fence of a page. */
export interface Snippet {
  /** The page, relative to the repository root. */
  page: string
  /** The line of the opening fence (1-based). */
  line: number
  /** The code, de-indented, one entry per line. */
  body: SourceLine[]
  /** The hidden prelude's lines, if any. */
  prelude: SourceLine[]
  /** `nocheck: reason`. */
  nocheck?: string | undefined
  /** `file: path`: the snippet is this file of a fixture (relative to tools/smoke/fixtures). */
  file?: string | undefined
}

/** A problem found in a page, as `page:line: message`. */
export interface SnippetProblem {
  page: string
  line: number
  message: string
}

export function formatProblem(problem: SnippetProblem): string {
  return `${problem.page}:${problem.line}: ${problem.message}`
}

/** Every page whose snippets are checked, relative to the repository root. */
export function documentedPages(): string[] {
  const pages = ['README.md']
  for (const parent of ['packages', 'examples']) {
    for (const name of readdirSync(join(repoRoot, parent)).sort()) {
      if (existsSync(join(repoRoot, parent, name, 'README.md'))) pages.push(`${parent}/${name}/README.md`)
    }
  }
  for (const name of readdirSync(join(repoRoot, 'docs')).sort()) {
    if (name.endsWith('.md')) pages.push(`docs/${name}`)
  }
  return pages
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)(.*)$/
const DIRECTIVE = /^(prelude|nocheck|file)\b:?\s*/

/** The snippets of one page, and the problems of its directives (unattached, unknown, empty). */
export function extractSnippets(
  page: string,
  text: string = readFileSync(join(repoRoot, page), 'utf8'),
): { snippets: Snippet[]; problems: SnippetProblem[] } {
  const lines = text.split('\n')
  const snippets: Snippet[] = []
  const problems: SnippetProblem[] = []
  // Comments that are directives, by the line they end on.
  const directives = new Map<number, { kind: string; start: number; lines: SourceLine[] }>()
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    const fence = line.match(FENCE)
    if (fence) {
      const [, indent = '', marker = '', lang = ''] = fence
      const body: SourceLine[] = []
      let j = i + 1
      for (; j < lines.length; j++) {
        const inner = lines[j] ?? ''
        if (inner.trim().startsWith(marker) && inner.trim().replace(/[`~]/g, '') === '') break
        body.push({
          text: inner.startsWith(indent) ? inner.slice(indent.length) : inner.trimStart(),
          line: j + 1,
        })
      }
      if (lang === 'ts' || lang === 'typescript') {
        const directive = directives.get(i - 1)
        directives.delete(i - 1)
        const snippet: Snippet = { page, line: i + 1, body, prelude: [] }
        if (directive?.kind === 'prelude') snippet.prelude = directive.lines
        if (directive?.kind === 'nocheck') {
          snippet.nocheck = directive.lines
            .map((l) => l.text.trim())
            .join(' ')
            .trim()
          if (snippet.nocheck === '')
            problems.push({ page, line: directive.start, message: 'nocheck without a reason' })
        }
        if (directive?.kind === 'file') snippet.file = directive.lines.map((l) => l.text.trim()).join('')
        snippets.push(snippet)
      }
      i = j
      continue
    }
    // A directive is a comment that starts its line (one quoted in a sentence is text).
    if (!line.trimStart().startsWith('<!--')) continue
    const open = line.indexOf('<!--')
    // An HTML comment (possibly over several lines).
    let end = i
    while (end < lines.length && !(lines[end] ?? '').includes('-->')) end++
    const text = lines.slice(i, end + 1)
    const first = (text[0] ?? '').slice(open + 4)
    const kind = first.trimStart().match(DIRECTIVE)
    if (kind) {
      const content: SourceLine[] = []
      const rest = first.trimStart().slice(kind[0].length)
      const pushLine = (value: string, at: number) => {
        const cut = value.indexOf('-->')
        const code = cut === -1 ? value : value.slice(0, cut)
        if (code.trim() !== '') content.push({ text: code, line: at })
      }
      if (end === i) pushLine(rest, i + 1)
      else {
        pushLine(rest, i + 1)
        for (let k = i + 1; k <= end; k++) pushLine(lines[k] ?? '', k + 1)
      }
      directives.set(end, { kind: kind[1] ?? '', start: i + 1, lines: content })
    } else if (/^\s*(snippet|ts|check|no-?check|pre-?lude)\b/i.test(first)) {
      problems.push({
        page,
        line: i + 1,
        message: `unknown snippet directive "${first.trim()}" (prelude, nocheck, file)`,
      })
    }
    i = end
  }
  for (const directive of directives.values()) {
    problems.push({
      page,
      line: directive.start,
      message: `"${directive.kind}" comment not on the line right before a \`\`\`ts fence`,
    })
  }
  return { snippets, problems }
}

/** The virtual file name of a snippet (under tools/smoke/.doc-snippets). */
function virtualName(snippet: Snippet): string {
  return join(virtualDir, `${snippet.page.replace(/\.md$/, '').replaceAll('/', '--')}-L${snippet.line}.mts`)
}

/**
 * The options snippets compile with: tsconfig.base.json's (strict, noUncheckedIndexedAccess,
 * exactOptionalPropertyTypes, isolatedModules, NodeNext) and decorators with metadata, as a Nest
 * app; not `verbatimModuleSyntax` (a house rule of our sources, not of a user's app).
 */
export function snippetCompilerOptions(): ts.CompilerOptions {
  const base = ts.readConfigFile(join(repoRoot, 'tsconfig.base.json'), ts.sys.readFile)
  const parsed = ts.convertCompilerOptionsFromJson(base.config.compilerOptions, repoRoot)
  return {
    ...parsed.options,
    verbatimModuleSyntax: false,
    // testkit (the contributor pages' snippets import it) is TypeScript source with .ts imports.
    allowImportingTsExtensions: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    moduleDetection: ts.ModuleDetectionKind.Force,
    noEmit: true,
    declaration: false,
    sourceMap: false,
    types: ['node'],
    typeRoots: [join(repoRoot, 'node_modules', '@types')],
  }
}

/** The prelude line after which the rest of the prelude follows the snippet (a wrapper). */
const SNIPPET_MARK = '/* snippet */'

/**
 * The compiled-file view of a snippet: its text and, per line, the page line it came from. A
 * prelude line `/* snippet *\/` splits it: what follows goes after the snippet (for a fragment
 * that is, say, the entries of a `health.check([...])` call in a controller).
 */
function virtualSource(snippet: Snippet): { text: string; lines: number[]; preludeLines: number } {
  const mark = snippet.prelude.findIndex((l) => l.text.trim() === SNIPPET_MARK)
  const before = mark === -1 ? snippet.prelude : snippet.prelude.slice(0, mark)
  const after = mark === -1 ? [] : snippet.prelude.slice(mark + 1)
  const all = [...before, ...snippet.body, ...after]
  return {
    text: `${all.map((l) => l.text).join('\n')}\n`,
    lines: all.map((l) => l.line),
    preludeLines: before.length,
  }
}

export interface CheckResult {
  problems: SnippetProblem[]
  /** Files type-checked (virtual snippets, context modules, fixture files). */
  files: number
}

/**
 * Type-checks `snippets` (those without `nocheck` or `file`) with the context modules and the
 * fixture files `fixtureFiles` (absolute paths; `fileSnippets` maps each to the page line of the
 * snippet showing it, so its diagnostics are reported there too), in one program.
 */
export function typeCheck(
  snippets: Snippet[],
  fixtureFiles: { path: string; page?: string | undefined; line?: number | undefined }[] = [],
): CheckResult {
  const options = snippetCompilerOptions()
  const virtual = new Map<string, { snippet: Snippet; text: string; lines: number[]; preludeLines: number }>()
  for (const snippet of snippets) {
    if (snippet.nocheck !== undefined || snippet.file !== undefined) continue
    virtual.set(virtualName(snippet), { snippet, ...virtualSource(snippet) })
  }
  const contextFiles = existsSync(contextDir)
    ? readdirSync(contextDir)
        .filter((name) => name.endsWith('.ts'))
        .map((name) => join(contextDir, name))
    : []
  const host = ts.createCompilerHost(options, true)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = (file) => virtual.has(file) || fileExists.call(host, file)
  host.readFile = (file) => virtual.get(file)?.text ?? readFile.call(host, file)
  host.getSourceFile = (file, languageVersion, onError, shouldCreate) => {
    const entry = virtual.get(file)
    if (entry) return ts.createSourceFile(file, entry.text, languageVersion, true)
    return getSourceFile.call(host, file, languageVersion, onError, shouldCreate)
  }
  const cache = ts.createModuleResolutionCache(repoRoot, (name) => name, options)
  host.resolveModuleNameLiterals = (literals, containingFile, redirected, compilerOptions, sourceFile) =>
    literals.map((literal) => {
      const name = literal.text
      if (name.startsWith('#context/')) {
        const resolvedFileName = join(contextDir, `${name.slice('#context/'.length)}.ts`)
        if (existsSync(resolvedFileName))
          return {
            resolvedModule: { resolvedFileName, extension: ts.Extension.Ts, isExternalLibraryImport: false },
          }
        return { resolvedModule: undefined }
      }
      const mode = ts.getModeForUsageLocation(sourceFile, literal, compilerOptions)
      return ts.resolveModuleName(name, containingFile, compilerOptions, host, cache, redirected, mode)
    })
  const roots = [...virtual.keys(), ...contextFiles, ...fixtureFiles.map((f) => f.path)]
  const program = ts.createProgram({ rootNames: roots, options, host })
  const problems: SnippetProblem[] = []
  const fixtureByPath = new Map(fixtureFiles.map((f) => [f.path, f]))
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
    const file = diagnostic.file
    if (file === undefined) {
      problems.push({ page: 'compiler options', line: 0, message })
      continue
    }
    const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
    const entry = virtual.get(file.fileName)
    if (entry) {
      const inPrelude = line < entry.preludeLines || line >= entry.preludeLines + entry.snippet.body.length
      problems.push({
        page: entry.snippet.page,
        line: entry.lines[line] ?? entry.snippet.line,
        message: `${inPrelude ? '(prelude) ' : ''}TS${diagnostic.code}: ${message}`,
      })
      continue
    }
    const fixture = fixtureByPath.get(file.fileName)
    const own = relative(repoRoot, file.fileName)
    if (fixture?.page !== undefined && fixture.line !== undefined) {
      problems.push({
        page: fixture.page,
        line: fixture.line + 1 + line,
        message: `(${own}:${line + 1}) TS${diagnostic.code}: ${message}`,
      })
      continue
    }
    if (own.startsWith('..') || own.includes('node_modules')) continue
    problems.push({ page: own, line: line + 1, message: `TS${diagnostic.code}: ${message}` })
  }
  return { problems, files: roots.length }
}

/** `@ayala/*` imports of some code: `module#name` (types and values alike). */
export function ayalaImports(code: string): { key: string; index: number }[] {
  const source = ts.createSourceFile('snippet.mts', code, ts.ScriptTarget.ES2023, true)
  const found: { key: string; index: number }[] = []
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue
    const module = statement.moduleSpecifier.text
    if (!module.startsWith('@ayala/')) continue
    const index = source.getLineAndCharacterOfPosition(statement.getStart()).line
    const bindings = statement.importClause?.namedBindings
    if (bindings && ts.isNamedImports(bindings)) {
      for (const element of bindings.elements) {
        found.push({ key: `${module}#${(element.propertyName ?? element.name).text}`, index })
      }
    }
  }
  return found
}

/**
 * Preludes that import from `@ayala/*` a name no visible snippet of the page imports from the
 * same module: the page would hide where that name comes from.
 */
export function hiddenImports(snippets: Snippet[]): SnippetProblem[] {
  const visible = new Set<string>()
  for (const snippet of snippets) {
    for (const { key } of ayalaImports(snippet.body.map((l) => l.text).join('\n'))) visible.add(key)
  }
  const problems: SnippetProblem[] = []
  for (const snippet of snippets) {
    const prelude = snippet.prelude
    if (prelude.length === 0) continue
    for (const { key, index } of ayalaImports(prelude.map((l) => l.text).join('\n'))) {
      if (visible.has(key)) continue
      const [module, name] = key.split('#')
      problems.push({
        page: snippet.page,
        line: prelude[index]?.line ?? snippet.line,
        message: `the prelude imports ${name} from ${module}, which no snippet of this page shows: import it in a visible snippet`,
      })
    }
  }
  return problems
}
