/**
 * Test certificates made with `openssl` at test time (nothing secret is committed): a throwaway CA
 * and a server certificate it signs for `127.0.0.1` and `localhost`, valid for one day, with EC
 * P-256 keys (fast to make). Give `caPem` to clients as their custom CA and `certPem`/`keyPem` to
 * the server; a client without the CA refuses the server (self-signed chain).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A CA and a server certificate signed by it, as PEM text and as files. */
export interface TestCertificates {
  /** Directory holding the files (removed by `remove()`). */
  readonly dir: string
  /** PEM of the CA certificate. */
  readonly caPem: string
  /** Path of the CA certificate file. */
  readonly caFile: string
  /** PEM of the server certificate (CN and SAN 127.0.0.1, SAN localhost). */
  readonly certPem: string
  /** Path of the server certificate file. */
  readonly certFile: string
  /** PEM of the server's private key. */
  readonly keyPem: string
  /** Path of the server's private key file. */
  readonly keyFile: string
  /** Delete the directory. */
  remove(): void
}

/** Make a CA and a server certificate for 127.0.0.1/localhost with `openssl` (must be on PATH). */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'ayala-certs-'))
  const file = (name: string) => join(dir, name)
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=ayala test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
  openssl(['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1'])
  writeFileSync(
    file('server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  )
  openssl([
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.pem'),
    '-days',
    '1',
    '-extfile',
    file('server.ext'),
  ])
  return {
    dir,
    caPem: readFileSync(file('ca.pem'), 'utf8'),
    caFile: file('ca.pem'),
    certPem: readFileSync(file('server.pem'), 'utf8'),
    certFile: file('server.pem'),
    keyPem: readFileSync(file('server.key'), 'utf8'),
    keyFile: file('server.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
