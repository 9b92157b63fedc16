/**
 * Serves docs/api on 127.0.0.1 and checks it in headless Chromium: the front page and one page
 * per primitive load without console errors, and the search box finds `retry`.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const root = join(process.cwd(), 'docs/api');
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
const failures: string[] = [];
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
  const pages = ['/', '/modules/classify.html', '/modules/retry.html', '/modules/files.html', '/modules/watch.html', '/modules/gate.html'];
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
  if (!/retry/i.test(found)) failures.push(`search for "retry" found "${found}"`);
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
