/**
 * Checks the built TypeDoc site (docs/api). First its links, without a browser: every `href` to a
 * page of the site names a built file, and every source link (`github.com/.../blob/<ref>/...`)
 * names the `src/` path of a file in this repository, at a line it has. Then it serves the site
 * on 127.0.0.1 and checks it in headless Chromium: the front page and one page per subpath load
 * without console errors, and the search box finds `retry` on its own page, not twice.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, posix, relative } from 'node:path';
import { chromium } from 'playwright-core';

const repo = process.cwd();
const root = join(repo, 'docs/api');
const sourceLink = /^https:\/\/github\.com\/ridethrough\/ridethrough\/blob\/[^/]+\/([^#?]*)(?:#L(\d+))?/;

function htmlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? htmlFiles(join(dir, entry.name)) : entry.name.endsWith('.html') ? [join(dir, entry.name)] : [],
  );
}

const lineCounts = new Map<string, number>();
function linesOf(file: string): number {
  let count = lineCounts.get(file);
  if (count === undefined) lineCounts.set(file, (count = readFileSync(file, 'utf8').split('\n').length));
  return count;
}

/** What is wrong with one href of a built page, or undefined when it resolves. */
function brokenLink(page: string, href: string): string | undefined {
  if (href === '' || href.startsWith('#') || /^(mailto|javascript):/.test(href)) return undefined;
  const source = sourceLink.exec(href);
  if (source) {
    const path = decodeURIComponent(source[1]!);
    if (posix.normalize(path) !== path || !path.startsWith('src/')) return 'source link outside src/';
    const file = join(repo, path);
    if (!existsSync(file) || !statSync(file).isFile()) return 'source link to a file that does not exist';
    if (source[2] !== undefined && Number(source[2]) > linesOf(file)) return `source link past the end of ${path}`;
    return undefined;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(href)) return undefined; // other sites: not ours to check offline
  const target = join(dirname(page), decodeURIComponent(href.replace(/[#?].*$/, '')));
  if (relative(root, target).startsWith('..')) return 'leads out of the site';
  if (!existsSync(target)) return 'no such file in the site';
  if (statSync(target).isDirectory() && !existsSync(join(target, 'index.html'))) return 'a directory without index.html';
  return undefined;
}

const failures: string[] = [];
{
  let checked = 0;
  for (const page of htmlFiles(root)) {
    const html = readFileSync(page, 'utf8');
    for (const match of html.matchAll(/\shref="([^"]*)"/g)) {
      const href = match[1]!.replaceAll('&amp;', '&');
      checked++;
      const problem = brokenLink(page, href);
      if (problem) failures.push(`${relative(root, page)}: ${href}: ${problem}`);
    }
  }
  if (checked === 0) failures.push('no links found: is docs/api built?');
  else if (failures.length === 0) console.log(`ok   ${checked} links`);
}
const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};
const server = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
  let file = join(root, path);
  if (!file.startsWith(root)) return void res.writeHead(403).end();
  try {
    if (statSync(file).isDirectory()) file = join(file, 'index.html');
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  } catch {
    res.writeHead(404).end('not found');
  }
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const profile = mkdtempSync(join(tmpdir(), 'ridethrough-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('response', (response) => {
    // Browsers ask for /favicon.ico on their own; the site does not reference one.
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) errors.push(`${response.status()} ${response.url()}`);
  });
  const pages = ['/', ...['index', 'classify', 'retry', 'files', 'watch', 'gate', 'kubernetes', 'credentials', 'testing'].map((m) => `/modules/${m}.html`)];
  for (const path of pages) {
    errors.length = 0;
    const response = await page.goto(base + path, { waitUntil: 'load' });
    const title = await page.title();
    if (response?.status() !== 200) failures.push(`${path}: HTTP ${response?.status()}`);
    else if (errors.length > 0) failures.push(`${path}: console errors: ${errors.join(' | ')}`);
    else console.log(`ok   ${path}  (${title})`);
  }
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.click('#tsd-search-trigger').catch(() => page.click('#tsd-search'));
  await page.keyboard.type('retry');
  const result = page.locator('#tsd-search-results li, .results li').first();
  await result.waitFor({ timeout: 10_000 });
  const found = await result.innerText();
  // The root module documents only what no subpath exports, so nothing is found twice.
  const viaRoot = await page.locator('#tsd-search-results li a[href*="modules/index.html#"], .results li a[href*="modules/index.html#"]').count();
  if (!/retry/i.test(found)) failures.push(`search for "retry" found "${found}"`);
  else if (viaRoot > 0) failures.push(`search for "retry" lists ${viaRoot} re-export(s) of the root module`);
  else console.log(`ok   search "retry" -> ${found.split('\n')[0]}`);
  await page.screenshot({ path: join(tmpdir(), 'ridethrough-docs.png') });
} finally {
  await browser.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
if (failures.length > 0) {
  console.error(failures.map((f) => `FAIL ${f}`).join('\n'));
  process.exit(1);
}
console.log('docs site ok');
