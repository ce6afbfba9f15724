// Drive Debian's chromium through the approval page, as a reviewer would:
// open the link, read the objective, metrics, the comparison with production and drift,
// write a comment, click Approve,
// see the decision.
// Run by tests/tests/approval_browser.rs with:
//   APPROVAL_URL      the page (served by the test's API Gateway stand-in)
//   BEARER            the reviewer's token (the stand-in's JWT authorizer reads it)
//   COMMENT           the comment to type
//   SCREENSHOT        where to save the final screenshot (PNG)
// Prints one JSON line with what it saw; exits non-zero on any failure.
import { chromium } from 'playwright-core';

const need = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};

const url = need('APPROVAL_URL');
const bearer = need('BEARER');
const comment = need('COMMENT');
const screenshot = need('SCREENSHOT');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // No sandbox as root; no background traffic (this machine has no network).
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const seen = { requests: [] };
try {
  // The front door (an OIDC proxy in production) adds the reviewer's bearer token to
  // every request; the test's stand-in for API Gateway's JWT authorizer checks it.
  const context = await browser.newContext({
    extraHTTPHeaders: { Authorization: `Bearer ${bearer}` },
    viewport: { width: 1100, height: 900 },
  });
  const page = await context.newPage();
  page.on('request', (r) => seen.requests.push(`${r.method()} ${r.url()}`));

  const resp = await page.goto(url, { waitUntil: 'load' });
  if (resp.status() !== 200) throw new Error(`GET page: HTTP ${resp.status()}`);
  seen.title = await page.title();
  // The text of an element, whitespace collapsed; '' when the page has no such element.
  const text = async (sel) =>
    (await page.locator(sel).count()) === 1
      ? (await page.locator(sel).innerText()).replace(/\s+/g, ' ').trim()
      : '';
  // The objective against the gate, the route and why (what the reviewer decides on).
  seen.objective = {
    name: await text('#objective-name'),
    value: await text('#objective-value'),
    baseline: await text('#objective-baseline'),
    thresholds: await text('#thresholds'),
    route: await text('#route'),
    reason: await text('#route-reason'),
    reviewWhy: await text('#review-why'),
  };
  seen.metrics = await text('#metrics');
  // The comparison with the model in production: the summary, the failed rows, and every
  // row's cells as the reviewer reads them.
  seen.comparisonSummary = await text('#comparison-summary');
  seen.comparisonFailed = await text('#comparison-failed');
  seen.comparisonRows = await page
    .locator('#comparison-rows tbody tr')
    .evaluateAll((trs) => trs.map((tr) => Array.from(tr.cells).map((td) => td.innerText.replace(/\s+/g, ' ').trim())));
  seen.drift = await text('#drift');
  // The drifted features table: the first cell of each body row.
  seen.driftFeatures = await page.locator('#drift-features tbody td.feature').allInnerTexts();
  seen.timeLeft = (await page.locator('#time-left').innerText()).trim();
  seen.reportLinks = await page.locator('#reports a').count();
  if (await page.locator('#approve').count() !== 1) throw new Error('no Approve button');

  await page.fill('#comment', comment);
  // The form posts, then the 303 brings the browser back to the page.
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#approve')]);
  try {
    await page.waitForSelector('#decision', { timeout: 15000 });
  } catch (e) {
    await page.screenshot({ path: screenshot, fullPage: true });
    throw new Error(`no decision shown at ${page.url()}: ${(await page.locator('body').innerText()).slice(0, 500)}`);
  }
  seen.decision = (await page.locator('#decision').innerText()).replace(/\s+/g, ' ').trim();
  seen.buttonsAfter = await page.locator('#approve, #reject').count();
  seen.status = (await page.locator('#status').innerText()).trim();
  seen.finalUrl = page.url();
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
