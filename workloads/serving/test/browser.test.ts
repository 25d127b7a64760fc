/** A real browser (Debian chromium via playwright-core) uses the form at `/`. */
import { chromium, type Browser } from 'playwright-core';
import { Stack, type Proc } from './helpers/stack';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let stack: Stack;
let api: Proc;
let browser: Browser | undefined;

beforeAll(async () => {
  stack = await Stack.start();
  api = await stack.spawn('api', { QUEUE_NAME: 'browser-test' });
  await stack.spawn('worker', { QUEUE_NAME: 'browser-test' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 120000);

afterAll(async () => {
  await browser?.close();
  await stack?.destroy();
});

test('headless Chromium opens /, fills the form, submits and sees the prediction and model version', async () => {
  const card = require('./fixtures/models/v1/model.json');
  const page = await browser!.newPage();
  const external: string[] = [];
  page.on('request', (r) => { if (!r.url().startsWith(api.url)) external.push(r.url()); });
  const consoleErrors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.goto(`${api.url}/`);
  expect(await page.textContent('#page-model-version')).toBe(card.version);
  // fill the form with the first checkSet row: the card says what the model must answer
  const row = card.checkSet.inputs[0] as number[];
  for (const [i, f] of (card.features as { name: string }[]).entries()) await page.fill(`input[name="${f.name}"]`, String(row[i]));
  await page.click('#submit');
  await page.waitForSelector('#prediction', { timeout: 15000 });
  const shown = Number(await page.textContent('#prediction'));
  expect(Math.abs(shown - card.checkSet.outputs[0])).toBeLessThan(0.01 + 1e-3 * Math.abs(card.checkSet.outputs[0]));
  expect(await page.textContent('#model-version')).toBe(card.version);
  // a value far out of range is refused with a readable message (server-side validation)
  await page.$eval('input[name="age"]', (el) => { (el as HTMLInputElement).removeAttribute('max'); });
  await page.fill('input[name="age"]', '100000');
  await page.click('#submit');
  await page.waitForSelector('#result.err', { timeout: 15000 });
  expect(await page.textContent('#result')).toContain('features.age: out of range');
  expect(external).toEqual([]);
  expect(consoleErrors.filter((e) => !e.includes('400'))).toEqual([]);
  await page.close();
}, 60000);
