/**
 * Opaque page cursors: base64url of `[kind, scope, values, check]`, where `scope` names the
 * request the cursor continues (its filters) and `check` is a SHA-256 prefix of the rest. The
 * check is not a signature (anyone can build a cursor); it makes an edited, truncated or foreign
 * cursor a 400 naming `cursor` instead of a page of another list. A cursor carries a keyset
 * position (the last item's sort values), never an offset, so pages neither skip nor repeat rows
 * that other writes leave in place.
 */
import { createHash } from 'node:crypto'
import type { ArgumentMetadata, PipeTransform } from '@nestjs/common'
import { InvalidInputException, single } from './input.ts'

/** A cursor's sort values. */
export type CursorValues = ReadonlyArray<string | number | null>

const MAX_CURSOR_LENGTH = 1_024

function check(kind: string, scope: string, values: CursorValues): string {
  return createHash('sha256')
    .update(JSON.stringify([kind, scope, values]))
    .digest('base64url')
    .slice(0, 12)
}

/** The cursor after `values` of a `kind` of list (`invoices`, `clients`, `search`) within `scope`. */
export function encodeCursor(kind: string, scope: string, values: CursorValues): string {
  return Buffer.from(JSON.stringify([kind, scope, values, check(kind, scope, values)])).toString('base64url')
}

/**
 * The values of `cursor`, when it was issued for `kind` within `scope`; a 400 naming `name`
 * otherwise.
 */
export function decodeCursor(name: string, cursor: string, kind: string, scope: string): CursorValues {
  const refuse = (why: string): never => {
    throw new InvalidInputException(name, `${name} is not a cursor of this request (${why})`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    return refuse('not one of its cursors')
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 4 ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string' ||
    !Array.isArray(parsed[2]) ||
    !(parsed[2] as unknown[]).every((v) => v === null || typeof v === 'string' || typeof v === 'number') ||
    parsed[3] !== check(parsed[0], parsed[1], parsed[2] as CursorValues) ||
    // Canonical text only: another encoding of the same bytes is not a cursor we issued.
    Buffer.from(JSON.stringify(parsed)).toString('base64url') !== cursor
  ) {
    return refuse('altered or malformed')
  }
  if (parsed[0] !== kind || parsed[1] !== scope) return refuse('issued for another list or other filters')
  return parsed[2] as CursorValues
}

/** `@Query('cursor', CursorPipe)`: an optional cursor text (decoded by the handler, which knows its scope). */
export class CursorPipe implements PipeTransform<unknown, string | undefined> {
  transform(value: unknown, metadata: ArgumentMetadata): string | undefined {
    const name = metadata.data ?? 'cursor'
    const raw = single(name, value)
    if (raw === undefined) return undefined
    if (raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(raw)) {
      throw new InvalidInputException(name, `${name} must be a cursor returned as nextCursor`)
    }
    return raw
  }
}
