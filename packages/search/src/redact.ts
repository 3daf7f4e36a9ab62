/**
 * Secrets never leave the package. Every message this package builds from something that may
 * carry a credential (a node URL, a transport error's text, an engine's error reason) goes through
 * {@link redactText}: the password of a `scheme://user:password@host` URL becomes `***` (the user
 * stays: it is what an operator needs to see), and the value of an `Authorization`-style
 * credential (`Basic ...`, `Bearer ...`, `ApiKey ...`) becomes `[redacted]`. A client also
 * redacts the exact secrets it was given (password, API key, bearer token, and their base64
 * forms), in case an engine or a proxy echoes one back in an error reason.
 *
 * Node URLs are stored without their credentials: {@link splitUrlCredentials} moves them into
 * the client's `auth` option at resolution, so `client.options.nodes` is safe to log.
 *
 * The URL rule is the one every `@ayala` package shares (`@ayala/internal`, bundled at build time);
 * the `Authorization`-style values and a client's own secrets are this package's additions.
 */
import { redactText as redactUrlCredentials } from '@ayala/internal'

// Case-sensitive, 12+ characters: `Basic dXNlcjpwYXNz...` is a credential, "basic search" is prose.
const AUTH_VALUE = /\b(Basic|Bearer|ApiKey)(\s+)[A-Za-z0-9+/=._~-]{12,}/g

/** Replace credentials in free text: URL passwords and `Basic`/`Bearer`/`ApiKey` values. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = redactUrlCredentials(text).replace(AUTH_VALUE, '$1$2[redacted]')
  for (const secret of secrets) {
    // Short secrets would redact ordinary words; every secret a client holds is at least 4 chars
    // in practice, and the base64 forms are longer.
    if (secret.length >= 4) out = out.split(secret).join('***')
  }
  return out
}

/** A URL with its password (and any user info) removed, for messages: `https://host:9200`. */
export function redactUrl(url: string | URL): string {
  try {
    const parsed = new URL(String(url))
    const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : ''
    parsed.username = ''
    parsed.password = ''
    const text = parsed.toString().replace(/\/$/, '')
    return user ? text.replace('://', `://${user}`) : text
  } catch {
    // Not a URL at all (a message fragment): redact it as text instead.
    return redactText(String(url))
  }
}

/** A node URL split into the URL without credentials and the basic credentials it carried. */
export function splitUrlCredentials(url: string): {
  url: string
  username: string | undefined
  password: string | undefined
} {
  const parsed = new URL(url)
  if (parsed.username === '' && parsed.password === '') {
    return { url, username: undefined, password: undefined }
  }
  const username = decodeURIComponent(parsed.username)
  const password = decodeURIComponent(parsed.password)
  parsed.username = ''
  parsed.password = ''
  return { url: parsed.toString().replace(/\/$/, ''), username, password }
}

/** The exact strings to scrub from messages for a set of credentials (raw and base64 forms). */
export function secretsOf(auth: CredentialsLike | undefined): string[] {
  if (auth === undefined) return []
  const out: string[] = []
  if ('password' in auth && typeof auth.password === 'string') {
    out.push(auth.password, encodeURIComponent(auth.password))
    if (typeof auth.username === 'string')
      out.push(Buffer.from(`${auth.username}:${auth.password}`).toString('base64'))
  }
  if ('apiKey' in auth && auth.apiKey !== undefined) {
    if (typeof auth.apiKey === 'string') out.push(auth.apiKey)
    else {
      out.push(
        auth.apiKey.api_key,
        Buffer.from(`${auth.apiKey.id}:${auth.apiKey.api_key}`).toString('base64'),
      )
    }
  }
  if ('bearer' in auth && typeof auth.bearer === 'string') out.push(auth.bearer)
  return [...new Set(out.filter((s) => s.length >= 4))]
}

/** Who a set of credentials authenticates as, for messages: `user "alice"`, `an API key`. */
export function describeCredentials(auth: CredentialsLike | undefined): string {
  if (auth === undefined) return 'no credentials'
  if ('username' in auth && typeof auth.username === 'string') return `user "${auth.username}"`
  if ('apiKey' in auth && auth.apiKey !== undefined) {
    return typeof auth.apiKey === 'string' ? 'an API key' : `API key "${auth.apiKey.id}"`
  }
  if ('bearer' in auth) return 'a bearer token'
  return 'unknown credentials'
}

/** The credential shapes of the official client (`auth` option). */
export type CredentialsLike =
  | { username: string; password: string }
  | { apiKey: string | { id: string; api_key: string } }
  | { bearer: string }
