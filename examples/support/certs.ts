/**
 * Real certificates for the scenarios: a self-signed EC P-256 pair made by the openssl command
 * line, as an operator would make one, in a directory the caller owns.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
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
