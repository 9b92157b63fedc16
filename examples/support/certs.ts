/**
 * Real certificates for the scenarios, made by the openssl command line as an operator would
 * make them, in a directory the caller owns: a self-signed EC P-256 pair, or a small CA and the
 * serving certificates it signs (with chosen validity dates, so an expired one is a real one).
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A key and its certificate, as PEM text and as files. */
export interface CertificatePair {
  readonly keyPem: string;
  readonly certPem: string;
  readonly keyPath: string;
  readonly certPath: string;
  /** SHA-256 fingerprint of the certificate, `AB:CD:...`. */
  readonly fingerprint: string;
}

/** Options of {@link selfSignedPair}. */
export interface SelfSignedOptions {
  /** The certificate's common name. */
  readonly commonName: string;
  /** `subjectAltName` extension value (`'IP:127.0.0.1'`), when the certificate serves TLS. */
  readonly subjectAltName?: string;
  readonly signal?: AbortSignal;
}

/**
 * Runs `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes` to write
 * `<dir>/<stem>.key` and `<dir>/<stem>.crt`, valid for one day, and reads them back.
 */
export async function selfSignedPair(dir: string, stem: string, options: SelfSignedOptions): Promise<CertificatePair> {
  const keyPath = join(dir, `${stem}.key`);
  const certPath = join(dir, `${stem}.crt`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  args.push('-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', `/CN=${options.commonName}`);
  if (options.subjectAltName !== undefined) args.push('-addext', `subjectAltName=${options.subjectAltName}`);
  await run('openssl', args, options.signal === undefined ? {} : { signal: options.signal });
  const [keyPem, certPem] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
  return { keyPem, certPem, keyPath, certPath, fingerprint: new X509Certificate(certPem).fingerprint256 };
}

/** A certificate authority in a directory of its own, for {@link issueLeaf}. */
export interface CertificateAuthority {
  /** The CA's own certificate: what clients trust. */
  readonly certPem: string;
  readonly dir: string;
}

/** Options of {@link issueLeaf}. */
export interface LeafOptions {
  readonly commonName: string;
  /** `'IP:127.0.0.1'` for a serving certificate. */
  readonly subjectAltName: string;
  /** `YYYYMMDDHHMMSSZ`, for a certificate that is already expired or not yet valid; default: now. */
  readonly startDate?: string;
  /** `YYYYMMDDHHMMSSZ`; default: one day after now. */
  readonly endDate?: string;
  readonly signal?: AbortSignal;
}

/**
 * A self-signed P-256 CA valid for one day, with the small database `openssl ca` keeps (an
 * index and a serial file): `openssl ca` is the command that takes explicit validity dates.
 */
export async function createCertificateAuthority(dir: string, options: { signal?: AbortSignal } = {}): Promise<CertificateAuthority> {
  await mkdir(join(dir, 'db'), { recursive: true });
  await Promise.all([writeFile(join(dir, 'db', 'index.txt'), ''), writeFile(join(dir, 'db', 'serial'), '01\n')]);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  args.push('-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '1', '-subj', '/CN=demo cluster CA');
  args.push('-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  await run('openssl', args, options.signal === undefined ? {} : { signal: options.signal });
  const config = [
    '[ca]', 'default_ca = demo', '[demo]', `dir = ${dir}`, 'database = $dir/db/index.txt', 'serial = $dir/db/serial',
    'new_certs_dir = $dir/db', 'certificate = $dir/ca.crt', 'private_key = $dir/ca.key', 'default_md = sha256',
    'policy = any_name', 'unique_subject = no', '[any_name]', 'commonName = supplied', '',
  ].join('\n');
  await writeFile(join(dir, 'ca.cnf'), config);
  return { certPem: await readFile(join(dir, 'ca.crt'), 'utf8'), dir };
}

/**
 * A serving certificate signed by `ca` (`openssl req -new`, then `openssl ca`), written as
 * `<ca.dir>/<stem>.key` and `.crt`. One at a time per CA: `openssl ca` updates its serial file.
 */
export async function issueLeaf(ca: CertificateAuthority, stem: string, options: LeafOptions): Promise<CertificatePair> {
  const base = join(ca.dir, stem);
  const spawnOptions = options.signal === undefined ? {} : { signal: options.signal };
  await run('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${options.commonName}`,
  ], spawnOptions);
  const extensions = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth'];
  await writeFile(`${base}.ext`, `[leaf]\n${[...extensions, `subjectAltName=${options.subjectAltName}`].join('\n')}\n`);
  const args = ['ca', '-batch', '-notext', '-config', join(ca.dir, 'ca.cnf'), '-in', `${base}.csr`, '-out', `${base}.crt`];
  args.push('-extfile', `${base}.ext`, '-extensions', 'leaf');
  if (options.startDate !== undefined) args.push('-startdate', options.startDate);
  if (options.endDate !== undefined) args.push('-enddate', options.endDate);
  else args.push('-days', '1');
  await run('openssl', args, spawnOptions);
  const [keyPem, certPem] = await Promise.all([readFile(`${base}.key`, 'utf8'), readFile(`${base}.crt`, 'utf8')]);
  return { keyPem, certPem, keyPath: `${base}.key`, certPath: `${base}.crt`, fingerprint: new X509Certificate(certPem).fingerprint256 };
}
