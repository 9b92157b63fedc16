/**
 * Certificates for the credentials tests, made by the openssl command line: one CA per test
 * file, and leaves it signs (EC P-256) with chosen validity dates, so an expired or a
 * not-yet-valid certificate is a real one, not a mocked clock.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A key and its certificate, as PEM text. */
export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 fingerprint, `AB:CD:...` (as `getPeerCertificate().fingerprint256` spells it). */
  readonly fingerprint: string;
  readonly certificate: X509Certificate;
}

/** A CA in a directory of its own, able to sign leaves. */
export interface TestCa extends Issued {
  readonly dir: string;
}

/** Options of {@link issue}. */
export interface IssueOptions {
  readonly commonName: string;
  /** `IP:127.0.0.1` for a server; omitted for a client certificate. */
  readonly subjectAltName?: string;
  /** `YYYYMMDDHHMMSSZ`; default: now (openssl's). */
  readonly startDate?: string;
  /** `YYYYMMDDHHMMSSZ`; default: one day after the start. */
  readonly endDate?: string;
}

/** A self-signed CA, valid for a day. */
export async function createCa(dir: string): Promise<TestCa> {
  await mkdir(join(dir, 'ca-db'), { recursive: true });
  await Promise.all([writeFile(join(dir, 'ca-db', 'index.txt'), ''), writeFile(join(dir, 'ca-db', 'serial'), '1000\n')]);
  const keyPath = join(dir, 'ca.key');
  const certPath = join(dir, 'ca.crt');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=ridethrough test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const ca = await loaded(certPath, keyPath);
  await writeFile(join(dir, 'ca.cnf'), caConfig(dir));
  return { ...ca, dir };
}

/**
 * A leaf signed by `ca` (`openssl ca`, which alone takes explicit start and end dates). Leaves of
 * one CA are issued one at a time: `openssl ca` keeps a serial file and an index.
 */
export async function issue(ca: TestCa, stem: string, options: IssueOptions): Promise<Issued> {
  const base = join(ca.dir, stem);
  await run('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${options.commonName}`,
  ]);
  const extensions = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature'];
  extensions.push(options.subjectAltName === undefined ? 'extendedKeyUsage=clientAuth' : 'extendedKeyUsage=serverAuth');
  if (options.subjectAltName !== undefined) extensions.push(`subjectAltName=${options.subjectAltName}`);
  await writeFile(`${base}.ext`, `[leaf]\n${extensions.join('\n')}\n`);
  const args = ['ca', '-batch', '-notext', '-config', join(ca.dir, 'ca.cnf'), '-in', `${base}.csr`, '-out', `${base}.crt`];
  args.push('-extfile', `${base}.ext`, '-extensions', 'leaf');
  if (options.startDate !== undefined) args.push('-startdate', options.startDate);
  if (options.endDate !== undefined) args.push('-enddate', options.endDate);
  else args.push('-days', '1');
  await run('openssl', args);
  return loaded(`${base}.crt`, `${base}.key`);
}

/** `YYYYMMDDHHMMSSZ` for openssl's `-startdate`/`-enddate`, `offsetMs` from now. */
export function opensslDate(offsetMs: number): string {
  return `${new Date(Date.now() + offsetMs).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

async function loaded(certPath: string, keyPath: string): Promise<Issued> {
  const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  const certificate = new X509Certificate(certPem);
  return { certPem, keyPem, fingerprint: certificate.fingerprint256, certificate };
}

function caConfig(dir: string): string {
  return `[ca]
default_ca = test_ca
[test_ca]
dir = ${dir}
database = $dir/ca-db/index.txt
serial = $dir/ca-db/serial
new_certs_dir = $dir/ca-db
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_days = 1
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
`;
}
