#!/usr/bin/env node
// inspector_browser_test: the admin inspector page (web/) in a real browser.
//
// Starts paysim and paycoord as real processes on free loopback ports with
// compressed schedules, makes a lost-notification order (confirmed by
// paycoord's own verify query), two paid with the wrong amount (ANOMALY) and a
// stuck one (business server down), then drives Debian's chromium through
// playwright-core: sign in (a wrong token first), read the summary, filter and
// page the list, open the stuck order, read its timeline, bring the business
// server back and press "forward now" until the page shows CONFIRMED; then
// follow "needs a person" to the unresolved ANOMALY orders, resolve one with a
// note (an empty or too long one is refused by the page) and watch the other
// get resolved by someone else first (the page shows paycoord's 409).
// Refunds: a paid order refunded twice through the public API, one refund
// ending SUCCESS and one ABNORMAL (paysim's abnormal_rate set at run time);
// the summary counts them, the refunds list filters and pages them, the order
// page shows both with their own timelines; the ABNORMAL one is resolved on
// the page with a note, then fixed at "WeChat" with its notification lost, and
// the refund's "verify now" finds the SUCCESS.
// Screenshots in $PAYCOORD_ARTIFACT_DIR: inspector.png (the detail view at
// 1280 px), inspector-narrow.png (390 px), inspector-stuck.png,
// inspector-resolve-form.png, inspector-resolved.png,
// inspector-refund-resolve-form.png (an ABNORMAL refund and its resolve form),
// inspector-refunds.png and inspector-refunds-narrow.png (the refunds settled).
//
// Plain node, no test runner: exit 0 = pass, 1 = fail (the message says why).
// Both child processes are always killed, on failure and on timeout too.
//
// Environment:
//   PAYCOORD_BIN_DIR        paycoord and paysim (default <source>/build/bin)
//   PAYCOORD_SOURCE_DIR     the source tree (default: two folders up from here)
//   PAYCOORD_ARTIFACT_DIR   where the screenshots go (default <source>/build/artifacts)
//   PAYCOORD_INSPECTOR_URL  dev mode: the page's URL instead of paycoord's own
//                           http://127.0.0.1:{admin_port}/admin/ ("{admin_port}" is
//                           replaced), e.g. a dev server that serves web/ and
//                           proxies api/ to paycoord's admin listener
//   PAYCOORD_CHROMIUM       the browser (default /usr/bin/chromium)

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// -- settings ------------------------------------------------------------------

const OVERALL_TIMEOUT_MS = 120_000;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE_DIR = path.resolve(process.env.PAYCOORD_SOURCE_DIR || path.join(HERE, '..', '..'));
const BIN_DIR = path.resolve(process.env.PAYCOORD_BIN_DIR || path.join(SOURCE_DIR, 'build', 'bin'));
const ARTIFACT_DIR = path.resolve(process.env.PAYCOORD_ARTIFACT_DIR || path.join(SOURCE_DIR, 'build', 'artifacts'));
const CHROMIUM = process.env.PAYCOORD_CHROMIUM || '/usr/bin/chromium';
const INSPECTOR_URL = process.env.PAYCOORD_INSPECTOR_URL || '';

const STUCK_AFTER_MS = 1000;
const SCHEDULE = {
  verify: ['200ms', '1s'],
  verify_every: '2s',
  userpaying_retry: '500ms',
  default_expiry: '1h',
  // Long on purpose: once the business server is back, the order's own retry
  // is far away, so only "forward now" confirms it within the test.
  forward_backoff_initial: '1m',
  forward_backoff_max: '10m',
  stuck_after: `${STUCK_AFTER_MS}ms`,
  close_not_before: '0s',
  // Far away on purpose: within the test a refund moves only by WeChat's
  // notification or by the operator's "verify now".
  refund_verify: ['1m'],
  refund_verify_every: '1m',
};

const LOST = 'WEBT-LOST-0001'; // notification dropped: found by paycoord's query
const PEND = 'WEBT-PEND-0001'; // never paid; its description is hostile markup
const STUCK = 'WEBT-STUCK-0001'; // paid while the business server is down
const STUCK_FEN = 2599;
const HOSTILE = '<img src=x onerror="window.__inspectorXss=1"><b>bold?</b> & "quotes"';
// Paid with the wrong amount: parked ANOMALY, to be resolved by a person.
const ANOM = 'WEBT-ANOM-0001'; // resolved through the page
const ANOM_OTHER = 'WEBT-ANOM-0002'; // resolved by "someone else" just before the page tries
const ANOM_FEN = 500;
const ANOM_PAID_FEN = 1;
const NOTE = 'Refunded ¥0.01 at the merchant platform <b>(ticket FIN-2211)</b>\nchecked with 财务 & "ops" <img src=x onerror="window.__inspectorXss=2">';
const OTHER_NOTE = 'Resolved by another operator';
// Refunds (CONTRACTS.md §10): one order, paid, refunded twice.
const REFD = 'WEBT-REFD-0001';
const REFD_FEN = 1000;
const R_OK = 'WEBT-R-OK-0001'; // ends SUCCESS through WeChat's notification
const R_OK_FEN = 300;
const R_ABN = 'WEBT-R-ABN-0001'; // ends ABNORMAL: resolved on the page, then fixed at WeChat
const R_ABN_FEN = 200;
const REFUND_NOTE = 'Paid back by bank transfer <b>(ticket FIN-3310)</b>\nconfirmed with 财务 & "ops" <img src=x onerror="window.__inspectorXss=3">';
const NOTE_MAX = 500;
const TOKEN_KEY = 'paycoord.inspector.token';

// -- reporting -----------------------------------------------------------------

const t0 = Date.now();
let currentStep = 'start';
let passed = 0;
let stepNo = 0;

function log(message) {
  const t = ((Date.now() - t0) / 1000).toFixed(1).padStart(5);
  console.log(`[${t}s] ${message}`);
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  passed += 1;
  log(`   ok  ${what}`);
}

async function step(title, fn) {
  stepNo += 1;
  currentStep = `${stepNo}. ${title}`;
  log(`step ${currentStep}`);
  return fn();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// Polls `probe` (async, returns a truthy value when done) every `interval` ms.
async function waitFor(what, probe, { timeout = 15_000, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (e) {
      if (e && e.fatal) throw e;
      last = e;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout / 1000} s waiting for ${what} (last: ${why})`);
    }
    await sleep(interval);
  }
}

// -- child processes -----------------------------------------------------------

const children = [];

class Child {
  constructor(name, args, logFile, cwd) {
    this.name = name;
    this.logFile = logFile;
    this.exit = null;
    const out = fs.openSync(logFile, 'a');
    const env = {};
    // paycoord rejects unknown PAYCOORD_* variables: give the children none of ours.
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PAYCOORD_')) env[k] = v;
    this.proc = spawn(path.join(BIN_DIR, name), args, { cwd, env, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.on('error', (err) => {
        this.exit = { code: null, signal: null, error: err.message };
        resolve(this.exit);
      });
    });
    children.push(this);
  }

  alive() {
    return this.exit === null;
  }

  /// Throws (fatally for waitFor) when the process has ended.
  assertAlive() {
    if (!this.alive()) {
      const e = new Error(`${this.name} exited early (${JSON.stringify(this.exit)}); its log:\n${tail(this.logFile)}`);
      e.fatal = true;
      throw e;
    }
  }

  async stop() {
    if (!this.alive()) return;
    this.proc.kill('SIGTERM');
    const done = await Promise.race([this.exited, sleep(5000).then(() => null)]);
    if (!done && this.alive()) {
      this.proc.kill('SIGKILL');
      await Promise.race([this.exited, sleep(2000)]);
    }
  }
}

function tail(file, bytes = 4000) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.length > bytes ? `…${text.slice(-bytes)}` : text;
  } catch {
    return '(no log)';
  }
}

// Last resort: never leave a child behind, whatever ends this process.
process.on('exit', () => {
  for (const c of children) if (c.alive()) c.proc.kill('SIGKILL');
});

// -- HTTP ----------------------------------------------------------------------

async function http(method, url, { body, token } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, json, text, type: res.headers.get('content-type') || '' };
}

async function freePorts(n) {
  // Hold every socket until all are picked, so the ports differ.
  const servers = [];
  const ports = [];
  for (let i = 0; i < n; i += 1) {
    const s = net.createServer();
    await new Promise((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', resolve);
    });
    servers.push(s);
    ports.push(s.address().port);
  }
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

// -- the test ------------------------------------------------------------------

const state = { dir: null, browser: null, failed: false, cleanedUp: false };

async function cleanup() {
  if (state.cleanedUp) return;
  state.cleanedUp = true;
  if (state.browser) {
    await Promise.race([state.browser.close().catch(() => {}), sleep(5000)]);
  }
  await Promise.all(children.map((c) => c.stop()));
  log(`stopped ${children.map((c) => `${c.name} (${c.exit ? c.exit.signal || `exit ${c.exit.code}` : 'still running?'})`).join(', ') || 'nothing'}`);
  if (state.dir) {
    if (state.failed) {
      for (const c of children) console.log(`---- ${c.name} log (${c.logFile}) ----\n${tail(c.logFile)}`);
      log(`kept ${state.dir} for inspection`);
    } else {
      fs.rmSync(state.dir, { recursive: true, force: true });
    }
  }
}

async function fail(err, code = 1) {
  if (state.failed) return; // the first failure (often the timeout) tells the story
  state.failed = true;
  console.error(`\nFAIL at step ${currentStep}: ${err && err.stack ? err.stack : err}`);
  await cleanup();
  console.log(`inspector_browser_test: ${passed} passed, 1 failed`);
  process.exit(code);
}

const overall = setTimeout(() => {
  fail(new Error(`overall timeout: the test took more than ${OVERALL_TIMEOUT_MS / 1000} s`));
}, OVERALL_TIMEOUT_MS);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => fail(new Error(`interrupted by ${sig}`), 130));
}

async function main() {
  let chromium;
  await step('preflight: binaries, browser, playwright-core', async () => {
    for (const name of ['paycoord', 'paysim']) {
      const bin = path.join(BIN_DIR, name);
      if (!fs.existsSync(bin)) throw new Error(`${bin} not found: build first (or set PAYCOORD_BIN_DIR)`);
    }
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found: apt-get install -y --no-install-recommends chromium (or set PAYCOORD_CHROMIUM)`);
    }
    try {
      ({ chromium } = await import('playwright-core'));
    } catch (e) {
      throw new Error(`playwright-core is not installed: run "npm ci" in ${HERE} (${e.message})`);
    }
    log(`   source ${SOURCE_DIR}, binaries ${BIN_DIR}, artifacts ${ARTIFACT_DIR}`);
  });

  const token = `test-admin-${crypto.randomBytes(12).toString('hex')}`;
  const [pPublic, pAdmin, pMetrics, pWechat, pBusiness, pControl] = await freePorts(6);
  const at = (p) => `127.0.0.1:${p}`;
  const control = (p) => `http://${at(pControl)}${p}`;
  const pub = (p) => `http://${at(pPublic)}${p}`;
  const admin = (p) => `http://${at(pAdmin)}${p}`;

  await step('write configs and start paysim + paycoord', async () => {
    state.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paycoord-inspector-'));
    const configDir = path.join(SOURCE_DIR, 'config');

    const sim = JSON.parse(fs.readFileSync(path.join(configDir, 'paysim.example.json'), 'utf8'));
    sim.listen = { wechat: at(pWechat), business: at(pBusiness), control: at(pControl) };
    for (const k of ['merchant_public_key_file', 'platform_private_key_file']) {
      sim.wechatpay[k] = path.resolve(configDir, sim.wechatpay[k]);
    }
    sim.time_factor = 0.01;
    sim.notify.timeout = '2s';
    // WeChat's refund pace, compressed (a refund is PROCESSING this long).
    sim.faults = { ...sim.faults, refund: { ...(sim.faults?.refund || {}), processing_min: '200ms', processing_max: '400ms' } };
    const simConfig = path.join(state.dir, 'paysim.json');
    fs.writeFileSync(simConfig, JSON.stringify(sim, null, 2));

    const pc = JSON.parse(fs.readFileSync(path.join(configDir, 'paycoord.example.json'), 'utf8'));
    pc.data_dir = path.join(state.dir, 'data');
    pc.listen = { public: at(pPublic), admin: at(pAdmin), metrics: at(pMetrics) };
    pc.wechatpay.base_url = `http://${at(pWechat)}`;
    pc.wechatpay.notify_url = pub(pc.wechatpay.notify_path || '/v1/wechatpay/notify');
    for (const k of ['merchant_private_key_file', 'platform_public_key_file']) {
      pc.wechatpay[k] = path.resolve(configDir, pc.wechatpay[k]);
    }
    pc.wechatpay.timeout = '2s';
    pc.wechatpay.rate_limit_qps = 1000;
    pc.business.callback_url = `http://${at(pBusiness)}${sim.business.path || '/orders/paid'}`;
    pc.business.timeout = '1s';
    pc.schedule = { ...pc.schedule, ...SCHEDULE };
    pc.admin = { token };
    const pcConfig = path.join(state.dir, 'paycoord.json');
    fs.writeFileSync(pcConfig, JSON.stringify(pc, null, 2));
    log(`   temp dir ${state.dir}; ports public ${pPublic} admin ${pAdmin} metrics ${pMetrics} wechat ${pWechat} business ${pBusiness} control ${pControl}`);

    const paysim = new Child('paysim', ['--config', simConfig], path.join(state.dir, 'paysim.log'), state.dir);
    await waitFor('paysim control API', async () => {
      paysim.assertAlive();
      return (await http('GET', control('/control/report?orders=false'))).status === 200;
    }, { timeout: 20_000 });
    log('   paysim is up');

    const paycoord = new Child('paycoord', ['--config', pcConfig], path.join(state.dir, 'paycoord.log'), state.dir);
    await waitFor('paycoord /readyz', async () => {
      paycoord.assertAlive();
      return (await http('GET', `http://${at(pMetrics)}/readyz`)).status === 200;
    }, { timeout: 30_000 });
    log('   paycoord is ready');
    state.paycoord = paycoord;
    state.paysim = paysim;
  });

  const detail = async (id) => {
    const r = await http('GET', admin(`/admin/api/orders/${encodeURIComponent(id)}`), { token });
    if (r.status !== 200) throw new Error(`GET detail ${id}: ${r.status} ${r.text}`);
    return r.json;
  };
  const publicState = async (id) => (await http('GET', pub(`/v1/orders/${encodeURIComponent(id)}`))).json?.state;

  await step('create five orders through POST /v1/orders', async () => {
    const create = async (id, total, description) => {
      const r = await http('POST', pub('/v1/orders'), {
        body: { out_trade_no: id, description, amount: { total, currency: 'CNY' }, payer: { openid: 'o-inspector-test' } },
      });
      check(r.status === 201 && r.json?.state === 'PENDING', `${id} created (201 PENDING; got ${r.status})`);
    };
    await create(LOST, 100, 'Monthly plan');
    await create(PEND, 100, HOSTILE);
    await create(STUCK, STUCK_FEN, 'Annual plan');
    await create(ANOM, ANOM_FEN, 'Family plan');
    await create(ANOM_OTHER, ANOM_FEN, 'Family plan');
  });

  await step(`pay ${LOST} with its notification dropped: paycoord's verify query must confirm it`, async () => {
    const r = await http('POST', control(`/control/orders/${LOST}/pay`), { body: { drop_notification: true } });
    check(r.status === 200, `paysim took the payment (${r.status})`);
    await waitFor(`${LOST} CONFIRMED`, async () => (await publicState(LOST)) === 'CONFIRMED', { timeout: 20_000 });
    const d = await detail(LOST);
    check(d.record.via === 'query', `${LOST} was found by a query (via ${d.record.via})`);
    check(d.events.some((e) => e.kind === 'query' && e.detail?.trade_state === 'SUCCESS'), 'its timeline has a query answered SUCCESS');
    const row = (await http('GET', control(`/control/orders/${LOST}`))).json;
    check(row.notify.dropped === 1 && row.notify.attempts === 0, 'paysim never sent its notification');
  });

  await step(`pay ${ANOM} and ${ANOM_OTHER} with the wrong amount: paycoord parks them ANOMALY, unresolved`, async () => {
    for (const id of [ANOM, ANOM_OTHER]) {
      // As tests/integration/timers_e2e_test.cpp does: WeChat charges a different amount.
      const r = await http('POST', control(`/control/orders/${id}/pay`), { body: { amount: ANOM_PAID_FEN } });
      check(r.status === 200, `paysim charged ${id} ${ANOM_PAID_FEN} fen instead of ${ANOM_FEN} (${r.status})`);
    }
    for (const id of [ANOM, ANOM_OTHER]) {
      const d = await waitFor(`${id} ANOMALY`, async () => {
        const x = await detail(id);
        return x.record.state === 'ANOMALY' ? x : null;
      }, { timeout: 20_000 });
      check(!d.record.resolved_at && !d.record.resolved_note, `${id} is ANOMALY and not resolved (resolved_at ${d.record.resolved_at})`);
    }
    const s = await http('GET', admin('/admin/api/summary'), { token });
    if (typeof s.json?.needs_a_person !== 'number') {
      throw new Error(`paycoord's summary has no needs_a_person (CONTRACTS.md §11 not built into this paycoord?): ${s.text}`);
    }
    check(s.json.needs_a_person === 2 && s.json.unresolved?.ANOMALY === 2, `the summary counts 2 that need a person (${JSON.stringify(s.json.unresolved)})`);
  });

  await step(`take the business server down and pay ${STUCK}: its delivery must fail with 503`, async () => {
    const down = await http('POST', control('/control/business'), { body: { up: false } });
    check(down.status === 200 && down.json?.up === false, 'business server is down');
    const r = await http('POST', control(`/control/orders/${STUCK}/pay`), { body: {} });
    check(r.status === 200, `paysim took the payment (${r.status})`);
    const d = await waitFor(`${STUCK} PAID with a failed delivery`, async () => {
      const x = await detail(STUCK);
      // The record and the events are read one after the other: wait for both to show it.
      return x.record.state === 'PAID' && x.record.first_forward_failure
        && x.events.some((e) => e.kind === 'forward' && e.detail?.status === 503) ? x : null;
    }, { timeout: 20_000 });
    check(Boolean(d.record.first_forward_failure), `first delivery failure recorded (${d.record.first_forward_failure})`);
    state.firstFailure = Date.parse(d.record.first_forward_failure);
  });

  let inspectorUrl = INSPECTOR_URL ? INSPECTOR_URL.replaceAll('{admin_port}', String(pAdmin)) : admin('/admin/');
  await step(`the inspector page is served at ${inspectorUrl}`, async () => {
    const r = await http('GET', inspectorUrl);
    if (r.status !== 200) {
      throw new Error(`GET ${inspectorUrl} answered ${r.status}: ${INSPECTOR_URL ? 'is the dev server running?' : 'this paycoord does not serve the page yet (rebuild with the embedded web/ route, or set PAYCOORD_INSPECTOR_URL for dev mode)'}`);
    }
    check(r.type.startsWith('text/html'), `the page is HTML (${r.type})`);
    check(r.text.includes('inspector.js') && r.text.includes('inspector.css'), 'it loads inspector.js and inspector.css');
    const base = new URL('.', inspectorUrl);
    for (const [file, servedAs] of [['index.html', inspectorUrl], ['inspector.js', new URL('inspector.js', base).href], ['inspector.css', new URL('inspector.css', base).href]]) {
      const served = servedAs === inspectorUrl ? r : await http('GET', servedAs);
      check(served.status === 200, `${servedAs} is served (${served.status})`);
      const repo = fs.readFileSync(path.join(SOURCE_DIR, 'web', file), 'utf8');
      if (served.text !== repo) log(`   WARNING: the served ${file} differs from web/${file} (a binary built from older web/ files?)`);
    }
    const noToken = await http('GET', admin('/admin/api/summary'));
    check(noToken.status === 401, `the API itself still wants the token (${noToken.status})`);
  });

  // -- the browser -----------------------------------------------------------

  const pageErrors = [];
  const consoleErrors = [];
  const outside = [];
  const apiCalls = []; // every admin API call the page made: { method, path, query, body }
  let page;
  await step('launch chromium and open the page', async () => {
    state.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const context = await state.browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    context.setDefaultTimeout(15_000);
    // Everything must come from this machine: the page may load nothing else.
    await context.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.protocol === 'data:' || ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return route.continue();
      outside.push(u.href);
      return route.abort();
    });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('request', (r) => {
      const u = new URL(r.url());
      const at = u.pathname.indexOf('/api/');
      if (at >= 0) apiCalls.push({ method: r.method(), path: u.pathname.slice(at + 5), query: u.searchParams, body: r.postData() });
    });
    page.on('console', (m) => {
      // Failed fetches (401, 404, 409) are expected; script errors and CSP refusals are not.
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
    });
    await page.goto(inspectorUrl);
    await page.locator('#signin-view').waitFor({ state: 'visible' });
    check(await page.locator('#app').isHidden(), 'nothing but the token prompt is shown before signing in');
  });

  const text = (sel) => page.locator(sel).first().innerText();
  const until = (what, fn, arg, timeout = 15_000) =>
    page.waitForFunction(fn, arg, { timeout, polling: 100 }).catch(async (e) => {
      throw new Error(`${what}: ${e.message.split('\n')[0]}\n--- page text ---\n${(await page.locator('body').innerText().catch(() => '?')).slice(0, 3000)}`);
    });

  await step('a wrong token is refused and the prompt stays', async () => {
    await page.fill('#token-input', 'not-the-token');
    await page.click('#signin-submit');
    await until('the sign-in error', () => {
      const e = document.getElementById('signin-error');
      return !e.hidden && /401/.test(e.textContent);
    });
    log(`   the page says: ${await text('#signin-error')}`);
    check(await page.locator('#signin-view').isVisible(), 'the token prompt is still there');
    check(await page.locator('#app').isHidden(), 'no data shown');
    check((await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY)) === null, 'the wrong token was not kept');
  });

  await step('sign in with the right token: the summary shows the counts', async () => {
    await page.fill('#token-input', token);
    await page.click('#signin-submit');
    await page.locator('#app').waitFor({ state: 'visible' });
    await until('the state counts', () => {
      const v = (s) => document.querySelector(`[data-testid="count-${s}-value"]`)?.textContent;
      return v('CONFIRMED') === '1' && v('PAID') === '1' && v('PENDING') === '1' && v('ANOMALY') === '2';
    });
    check(true, 'counts per state: PENDING 1, PAID 1, CONFIRMED 1, ANOMALY 2');
    check((await text('[data-testid="needs-a-person-value"]')) === '2', 'the summary says 2 need a person');
    check((await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY)) === token, 'the token is kept in sessionStorage');
    check((await text('[data-testid="stat-ready"] dd')) === 'yes', 'ready: yes');
    for (const key of ['live_actors', 'timers_armed', 'stuck', 'parked', 'actor_restarts', 'store_bytes', 'uptime']) {
      const v = await text(`[data-testid="stat-${key}"] dd`);
      check(v && v !== '?', `summary shows ${key} (${v})`);
    }
    check(/Live/.test(await text('#conn-status')), 'the connection status says Live');
  });

  await step('filter PAID: the stuck order is listed, the confirmed one is not', async () => {
    await page.selectOption('#state-filter', 'PAID');
    await until('the PAID list', (id) => {
      const rows = [...document.querySelectorAll('[data-testid="order-row"]')];
      return rows.length > 0 && rows.every((r) => r.dataset.state === 'PAID') && rows.some((r) => r.dataset.id === id);
    }, STUCK);
    check(!(await page.locator(`[data-testid="order-row"][data-id="${LOST}"]`).count()), `${LOST} (CONFIRMED) is not in the PAID list`);
    check(/state=PAID/.test(await page.evaluate(() => location.hash)), 'the filter is in the address (#/orders?state=PAID)');
    const row = page.locator(`[data-testid="order-row"][data-id="${STUCK}"]`);
    check((await row.innerText()).includes('¥25.99'), 'the row shows the amount in yuan');
  });

  await step(`open ${STUCK}: record, actor and a failed delivery with HTTP 503 on the timeline`, async () => {
    await page.locator(`[data-testid="order-row"][data-id="${STUCK}"] [data-testid="order-link"]`).click();
    await page.locator('#detail-body').waitFor({ state: 'visible' });
    check((await text('#detail-id')) === STUCK, 'the detail is the stuck order');
    check((await text('#detail-badges [data-testid="state-badge"]')) === 'PAID', 'state badge PAID');
    const amount = await text('#detail-amount');
    check(amount.includes('¥25.99') && amount.includes('2599 fen'), `amount in yuan and fen (${amount})`);
    check((await text('[data-testid="field-transaction_id"] dd')).trim().length > 10, 'transaction_id shown');
    check(/notify/.test(await text('[data-testid="field-paid_via"] dd')), 'paid via notify');
    // Newest first: the first failed delivery shown may be a later attempt
    // than the first (the retry timer keeps going while the page loads).
    const failed = page.locator('[data-testid="event"][data-kind="forward"][data-status="503"]').first();
    await failed.waitFor({ state: 'visible' });
    const failedText = await failed.innerText();
    check(/failed/i.test(failedText) && failedText.includes('HTTP 503') && /attempt \d+/.test(failedText), `the timeline shows the failed delivery: "${failedText.replace(/\s+/g, ' ')}"`);
    check(await page.locator('[data-testid="event"][data-kind="notify"]').count() === 1, 'the timeline shows the notification received');
    check(await page.locator('[data-testid="event"][data-kind="state"]').count() >= 1, 'the timeline shows the state change');
    check(await page.locator('#verify-now').isDisabled(), '"Verify now" is disabled for a PAID order');
    check(await page.locator('#forward-now').isEnabled(), '"Forward now" is enabled for a PAID order');
    check(/forward|deliver/i.test(await text('[data-testid="field-next_action"] dd')), 'the live actor has a delivery retry armed');
  });

  await step('"forward now" while the business server is still down: the order is flagged STUCK', async () => {
    // stuck_after counts from the first failure (given to the second): wait past it.
    await waitFor('stuck_after to pass since the first failure', async () => Date.now() > state.firstFailure + STUCK_AFTER_MS + 1200, { timeout: 10_000 });
    await page.click('#forward-now');
    await until('the action result', () => document.getElementById('action-result').dataset.outcome === 'accepted');
    log(`   the page says: ${await text('#action-result')}`);
    await until('the STUCK badge', () => Boolean(document.querySelector('#detail-badges [data-testid="flag-stuck"]')));
    check(true, 'STUCK badge shown');
    check(/Stuck/.test(await text('#detail-hint')), `hint: ${await text('#detail-hint')}`);
    check(await page.locator('[data-testid="event"][data-kind="forward"][data-status="503"]').count() >= 2, 'a second failed delivery is on the timeline');
    check(await page.locator('[data-testid="event"][data-kind="operator"]').count() === 1, 'the operator action is on the timeline');
    await until('the summary to count it stuck', () => document.querySelector('[data-testid="stat-stuck"] dd')?.textContent === '1'
      && Boolean(document.querySelector('[data-testid="alert-stuck"]')), null, 12_000);
    check(true, 'the summary counts 1 stuck order and raises the alert');
    fs.mkdirSync(ARTIFACT_DIR, { recursive: true });
    const shot = path.join(ARTIFACT_DIR, 'inspector-stuck.png');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: shot, fullPage: true });
    log(`   saved ${shot}`);
  });

  await step('bring the business server back and press "forward now": the page shows CONFIRMED', async () => {
    const up = await http('POST', control('/control/business'), { body: { up: true } });
    check(up.status === 200 && up.json?.up === true, 'business server is up');
    // The order's own retry is minutes away (full jitter makes "minutes" a
    // likelihood, not a certainty): if it won the race, say so and go on.
    let outcome = 'own-retry';
    if ((await detail(STUCK)).record.state === 'PAID') {
      await page.click('#forward-now'); // waits until it is enabled again
      await until('the action result', () => ['accepted', 'refused'].includes(document.getElementById('action-result').dataset.outcome));
      outcome = await page.locator('#action-result').getAttribute('data-outcome');
      log(`   the page says: ${await text('#action-result')}`);
    }
    await until('CONFIRMED on the page', () => document.querySelector('#detail-badges [data-testid="state-badge"]')?.textContent === 'CONFIRMED', null, 15_000);
    check(true, 'the page shows CONFIRMED');
    if (outcome === 'accepted') {
      check(await page.locator('[data-testid="event"][data-kind="operator"]').count() === 2, 'both operator actions are on the timeline');
    } else {
      log(`   NOTE: the order's own retry confirmed it before the click could (${outcome})`);
    }
    const acked = page.locator('[data-testid="event"][data-kind="forward"][data-acked="true"]').first();
    await acked.waitFor({ state: 'visible' });
    check(/acknowledged/i.test(await acked.innerText()) && (await acked.innerText()).includes('HTTP 200'), `the timeline shows the acknowledged delivery: "${(await acked.innerText()).replace(/\s+/g, ' ')}"`);
    check(await page.locator('#detail-badges [data-testid="flag-stuck"]').count() === 0, 'no STUCK badge any more');
    check(await page.locator('#forward-now').isDisabled() && await page.locator('#verify-now').isDisabled(), 'both actions disabled for a CONFIRMED order');
    const row = (await http('GET', control(`/control/orders/${STUCK}`))).json;
    check(row.business.deliveries >= 1, `the business server recorded the delivery (${row.business.deliveries})`);
    check((await publicState(STUCK)) === 'CONFIRMED', 'paycoord says CONFIRMED too');
  });

  await step('screenshots of the detail view', async () => {
    fs.mkdirSync(ARTIFACT_DIR, { recursive: true });
    await until('the summary to settle', () => document.querySelector('[data-testid="stat-stuck"] dd')?.textContent === '0', null, 12_000);
    await page.mouse.move(0, 0);
    const wide = path.join(ARTIFACT_DIR, 'inspector.png');
    await page.screenshot({ path: wide, fullPage: true });
    log(`   saved ${wide}`);
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    check(overflow <= 1, `no sideways scrolling in a 390 px window (overflow ${overflow} px)`);
    const narrow = path.join(ARTIFACT_DIR, 'inspector-narrow.png');
    await page.screenshot({ path: narrow, fullPage: true });
    log(`   saved ${narrow}`);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step(`search ${PEND}: hostile text stays text, "verify now" queries WeChat`, async () => {
    await page.fill('#search-input', PEND);
    await page.press('#search-input', 'Enter');
    await until('the detail of the pending order', (id) => document.getElementById('detail-id')?.textContent === id
      && !document.getElementById('detail-body').hidden, PEND);
    check((await text('[data-testid="field-description"] dd')) === HOSTILE, 'the hostile description is shown literally');
    check(await page.locator('#detail-view img, #detail-view b').count() === 0, 'no markup was created from it');
    check((await page.evaluate(() => window.__inspectorXss)) === undefined, 'no script ran');
    check(await page.locator('#verify-now').isEnabled() && await page.locator('#forward-now').isDisabled(), 'verify enabled, forward disabled for PENDING');
    const queriesBefore = await page.locator('[data-testid="event"][data-kind="query"]').count();
    await page.click('#verify-now');
    await until('the verify result', () => document.getElementById('action-result').dataset.outcome === 'accepted');
    log(`   the page says: ${await text('#action-result')}`);
    await until('the operator verify and its query on the timeline', (n) => {
      const ev = [...document.querySelectorAll('[data-testid="event"]')];
      return ev.some((e) => e.dataset.kind === 'operator' && /verify now/.test(e.textContent))
        && ev.filter((e) => e.dataset.kind === 'query').length > n;
    }, queriesBefore);
    check(true, 'operator verify and a new WeChat query are on the timeline');
    check((await text('#detail-badges [data-testid="state-badge"]')) === 'PENDING', 'still PENDING (never paid)');
  });

  await step('search an unknown order: 404 said plainly', async () => {
    await page.fill('#search-input', 'WEBT-NOPE-0001');
    await page.press('#search-input', 'Enter');
    await until('the not-found message', () => {
      const e = document.getElementById('detail-error');
      return !e.hidden && /404/.test(e.textContent);
    });
    log(`   the page says: ${await text('#detail-error')}`);
    check(await page.locator('#detail-body').isHidden(), 'no stale order shown');
  });

  // -- parked orders: a person's way out (CONTRACTS.md §11) -----------------

  const rowIds = () => page.evaluate(() => [...document.querySelectorAll('[data-testid="order-row"]')].map((r) => r.dataset.id).join(','));
  const listShows = (what, want) => until(what, (w) => [...document.querySelectorAll('[data-testid="order-row"]')].map((r) => r.dataset.id).join(',') === w, want);
  const lastListCall = () => [...apiCalls].reverse().find((c) => c.method === 'GET' && c.path === 'orders');
  const resolveCalls = () => apiCalls.filter((c) => c.method === 'POST' && /\/resolve$/.test(c.path));

  await step('"needs a person" links to the unresolved orders; the stuck and unresolved boxes filter the list', async () => {
    check((await text('[data-testid="needs-a-person-value"]')) === '2', 'the summary says 2 need a person');
    check(/2 ANOMALY/.test(await text('[data-testid="needs-a-person-detail"]')), `it says which: "${await text('[data-testid="needs-a-person-detail"]')}"`);
    check(await page.locator('[data-testid="alert-needs-a-person"]').count() === 1, 'and raises an alert');
    await page.click('[data-testid="needs-a-person"]');
    await listShows('the unresolved list', `${ANOM},${ANOM_OTHER}`);
    check(true, `the list shows exactly ${ANOM} and ${ANOM_OTHER}`);
    check(/unresolved=true/.test(await page.evaluate(() => location.hash)), 'the filter is in the address (#/orders?unresolved=true)');
    check(await page.locator('#filter-unresolved').isChecked() && !(await page.locator('#filter-stuck').isChecked()), 'the "needs a person" box is ticked, "stuck" is not');
    check(lastListCall()?.query.get('unresolved') === 'true', `the page asked for unresolved=true (${lastListCall()?.query})`);
    check((await text('#list-title')) === 'Orders that need a person', `title: ${await text('#list-title')}`);
    check(await page.locator('[data-testid="order-row"][data-resolved="false"][data-state="ANOMALY"]').count() === 2, 'both rows are ANOMALY and unresolved');

    await page.uncheck('#filter-unresolved');
    await listShows('every order again', `${ANOM},${ANOM_OTHER},${LOST},${PEND},${STUCK}`);
    check(!/unresolved/.test(await page.evaluate(() => location.hash)), 'unticked: every order, and the address says so');
    await page.check('#filter-stuck');
    await until('no stuck orders', () => !document.getElementById('list-empty').hidden
      && /No stuck orders/.test(document.getElementById('list-empty').textContent));
    check(lastListCall()?.query.get('stuck') === 'true', `"stuck" ticked: the page asked for stuck=true (${lastListCall()?.query}) and says "${await text('#list-empty')}"`);
    await page.uncheck('#filter-stuck');
    await page.check('#filter-unresolved');
    await listShows('the unresolved list again', `${ANOM},${ANOM_OTHER}`);
    check(true, 'ticked again: the two ANOMALY orders');

    // Paging keeps the filter: only the cursor changes from page to page.
    await page.evaluate(() => { location.hash = '#/orders?unresolved=true&limit=1'; });
    await listShows('unresolved page 1', ANOM);
    check(await page.locator('#next-page').isEnabled(), `unresolved page 1 is ${ANOM} and "next page" is enabled`);
    await page.click('#next-page');
    await listShows('unresolved page 2', ANOM_OTHER);
    const call = lastListCall();
    check(call.query.get('unresolved') === 'true' && call.query.get('after') === ANOM && call.query.get('limit') === '1',
      `page 2 asked for ${call.query} (the filter kept, after the cursor)`);
    await page.evaluate(() => { location.hash = '#/orders?unresolved=true'; });
    await listShows('the unresolved list, one page', `${ANOM},${ANOM_OTHER}`);
  });

  await step(`open ${ANOM}: ANOMALY, unresolved, no Retry; the page refuses an empty or too long note`, async () => {
    await page.locator(`[data-testid="order-row"][data-id="${ANOM}"] [data-testid="order-link"]`).click();
    await until('the ANOMALY order', (id) => document.getElementById('detail-id')?.textContent === id
      && !document.getElementById('detail-body').hidden, ANOM);
    check((await text('#detail-badges [data-testid="state-badge"]')) === 'ANOMALY', 'state badge ANOMALY');
    check(await page.locator('#detail-badges [data-testid="flag-parked"]').count() === 1
      && await page.locator('#detail-badges [data-testid="flag-resolved"]').count() === 0, 'flagged PARKED, not RESOLVED');
    check(/no/.test(await text('[data-testid="field-resolved_at"] dd')), `resolved: ${await text('[data-testid="field-resolved_at"] dd')}`);
    check(/resolve/i.test(await text('#detail-hint')), 'the hint says to resolve it once handled');
    check(await page.locator('#resolve-form').isVisible(), 'the resolve form is shown');
    check(await page.locator('#retry-now').isHidden(), 'no Retry (only for FAULTED)');
    check(await page.locator('#verify-now').isDisabled() && await page.locator('#forward-now').isDisabled(), 'verify and forward disabled');

    const submit = page.locator('#resolve-submit');
    check(await submit.isDisabled(), 'an empty note: "Mark resolved" is disabled');
    check(/^0 \/ 500/.test(await text('#resolve-count')), `counter: ${await text('#resolve-count')}`);
    await page.fill('#resolve-note', '   \n  ');
    check(await submit.isDisabled(), 'a note of blanks: still disabled');
    await page.press('#resolve-note', 'Control+Enter');
    await page.fill('#resolve-note', 'x'.repeat(NOTE_MAX + 1));
    check(await submit.isDisabled(), `${NOTE_MAX + 1} characters: disabled`);
    const over = await text('#resolve-count');
    check(over.includes(`${NOTE_MAX + 1} / ${NOTE_MAX}`) && /too many/.test(over), `counter: ${over}`);
    await page.press('#resolve-note', 'Control+Enter');
    await page.fill('#resolve-note', 'x'.repeat(NOTE_MAX));
    check(await submit.isEnabled(), `exactly ${NOTE_MAX} characters: enabled`);
    await page.fill('#resolve-note', '');
    check(await submit.isDisabled(), 'emptied again: disabled');
    await page.press('#resolve-note', 'Control+Enter');
    await sleep(300);
    check(resolveCalls().length === 0, 'nothing was sent to paycoord for any of those');
    check(await page.locator('#resolve-error').isHidden(), 'and no error shown');

    await page.fill('#resolve-note', NOTE);
    check(await submit.isEnabled(), 'a real note: enabled');
    check((await text('#resolve-count')).startsWith(`${[...NOTE].length} / ${NOTE_MAX}`), `counter: ${await text('#resolve-count')}`);
    fs.mkdirSync(ARTIFACT_DIR, { recursive: true });
    const shot = path.join(ARTIFACT_DIR, 'inspector-resolve-form.png');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: shot, fullPage: true });
    log(`   saved ${shot}`);
  });

  await step(`resolve ${ANOM} with the note: the page shows it resolved, the note and the operator event`, async () => {
    await page.click('#resolve-submit');
    await until('the resolve result', () => document.getElementById('action-result').dataset.outcome === 'resolved');
    log(`   the page says: ${await text('#action-result')}`);
    const sent = resolveCalls();
    check(sent.length === 1 && sent[0].path === `orders/${ANOM}/resolve` && JSON.parse(sent[0].body).note === NOTE,
      `one POST orders/${ANOM}/resolve with the note as typed (${sent.length} sent)`);
    await until('the RESOLVED badge', () => Boolean(document.querySelector('#detail-badges [data-testid="flag-resolved"]')));
    check((await text('#detail-badges [data-testid="state-badge"]')) === 'ANOMALY', 'still ANOMALY (resolving does not move it)');
    check((await page.locator('[data-testid="field-resolved_note"] dd').textContent()) === NOTE, 'the note is shown exactly as written');
    const at = await page.locator('[data-testid="field-resolved_at"] dd time').getAttribute('datetime');
    check(Boolean(at) && !Number.isNaN(Date.parse(at)), `resolved at ${at}`);
    check(/Resolved by a person/.test(await text('#detail-hint')), `hint: ${await text('#detail-hint')}`);
    check(await page.locator('#resolve-form').isHidden() && await page.locator('#person-actions').isHidden(), 'the resolve form is gone');
    const ev = page.locator('[data-testid="event"][data-kind="operator"][data-action="resolve"]');
    await ev.first().waitFor({ state: 'visible' });
    check(await ev.count() === 1, 'one operator "resolve" event on the timeline');
    check((await ev.locator('[data-testid="event-note"]').textContent()) === NOTE, 'it carries the note');
    check(await page.locator('#detail-view b, #detail-view img').count() === 0, 'the markup in the note stayed text');
    check((await page.evaluate(() => window.__inspectorXss)) === undefined, 'no script ran');
    const d = await detail(ANOM);
    check(d.record.resolved_note === NOTE && d.record.state === 'ANOMALY', 'paycoord kept the note (and the state)');
    await until('the count to go down', () => document.querySelector('[data-testid="needs-a-person-value"]')?.textContent === '1');
    check(true, 'the summary says 1 needs a person now');
    const shot = path.join(ARTIFACT_DIR, 'inspector-resolved.png');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: shot, fullPage: true });
    log(`   saved ${shot}`);
  });

  await step(`the unresolved list no longer shows ${ANOM}; the full list marks it RESOLVED`, async () => {
    await page.click('[data-testid="needs-a-person"]');
    await listShows('the unresolved list', ANOM_OTHER);
    check(true, `only ${ANOM_OTHER} is left`);
    check((await text('[data-testid="count-ANOMALY-value"]')) === '2', 'ANOMALY still counts 2 (resolved orders stay ANOMALY)');
    await page.uncheck('#filter-unresolved');
    const row = page.locator(`[data-testid="order-row"][data-id="${ANOM}"]`);
    await row.waitFor({ state: 'visible' });
    check((await row.getAttribute('data-resolved')) === 'true' && await row.locator('[data-testid="flag-resolved"]').count() === 1, `${ANOM} is listed with a RESOLVED badge`);
  });

  await step(`someone else resolves ${ANOM_OTHER} just before the page does: the 409 is shown at the form`, async () => {
    await page.fill('#search-input', ANOM_OTHER);
    await page.press('#search-input', 'Enter');
    await until('the other ANOMALY order', (id) => document.getElementById('detail-id')?.textContent === id
      && !document.getElementById('detail-body').hidden, ANOM_OTHER);
    check(await page.locator('#resolve-form').isVisible(), 'its resolve form is shown');
    await page.fill('#resolve-note', 'Resolved from the page');
    // Hold the page's request until another operator's resolve (straight to the API) has landed:
    // real paycoord then answers the page 409.
    let other = null;
    await page.route(`**/api/orders/${ANOM_OTHER}/resolve`, async (route) => {
      other = await http('POST', admin(`/admin/api/orders/${ANOM_OTHER}/resolve`), { token, body: { note: OTHER_NOTE } });
      await route.continue();
    });
    await page.click('#resolve-submit');
    await until('the refusal next to the form', () => {
      const e = document.getElementById('resolve-error');
      return !e.hidden && /409/.test(e.textContent);
    });
    await page.unroute(`**/api/orders/${ANOM_OTHER}/resolve`);
    check(other?.status === 200, `the other operator's resolve was accepted (${other?.status})`);
    const refusal = await text('#resolve-error');
    log(`   the page says: ${refusal}`);
    check(/INVALID_STATE/.test(refusal), 'it names INVALID_STATE');
    check(await page.evaluate(() => document.getElementById('person-actions').contains(document.getElementById('resolve-error'))), 'it is shown with the resolve controls');
    await until('the page to show the other resolution', (n) => document.querySelector('[data-testid="field-resolved_note"] dd')?.textContent === n, OTHER_NOTE);
    check(await page.locator('#resolve-error').isVisible(), 'the refusal stays in view after the order is read again');
    const notes = await page.locator('[data-testid="event"][data-kind="operator"][data-action="resolve"] [data-testid="event-note"]').allTextContents();
    check(notes.includes(OTHER_NOTE), `the other operator's resolve is on its timeline (${JSON.stringify(notes)})`);
    await until('nobody needed any more', () => document.querySelector('[data-testid="needs-a-person-value"]')?.textContent === '0'
      && !document.querySelector('[data-testid="alert-needs-a-person"]'));
    check(true, 'the summary says 0 need a person and the alert is gone');
    await page.click('[data-testid="needs-a-person"]');
    await until('the empty unresolved list', () => !document.getElementById('list-empty').hidden
      && /No order needs a person/.test(document.getElementById('list-empty').textContent));
    check(await page.locator('[data-testid="order-row"]').count() === 0, `the unresolved list is empty: "${await text('#list-empty')}"`);
  });

  await step('paging: next page and back to the first', async () => {
    await page.evaluate(() => { location.hash = '#/orders?limit=3'; });
    await listShows('page 1', `${ANOM},${ANOM_OTHER},${LOST}`);
    check(await page.locator('#next-page').isEnabled(), `page 1 is ${await rowIds()} and "next page" is enabled`);
    await page.click('#next-page');
    await listShows('page 2', `${PEND},${STUCK}`);
    check(await page.locator('#next-page').isDisabled(), `page 2 is ${await rowIds()} and is the last`);
    check(/page 2/.test(await text('#list-page-label')), `label: ${await text('#list-page-label')}`);
    await page.click('#first-page');
    await listShows('page 1 again', `${ANOM},${ANOM_OTHER},${LOST}`);
    check(true, 'back on the first page');
  });

  // -- refunds (CONTRACTS.md §10; §11 for the ABNORMAL one) --------------------

  const refundOf = (d, no) => (Array.isArray(d.refunds) ? d.refunds.find((x) => x.out_refund_no === no) : undefined);
  const faults = async (refund) => {
    const r = await http('POST', control('/control/faults'), { body: { refund } });
    check(r.status === 200, `paysim's refund faults now ${JSON.stringify(refund)} (${r.status})`);
  };
  const askRefund = (no, fen, reason) => http('POST', pub(`/v1/orders/${REFD}/refunds`), {
    body: { out_refund_no: no, amount: { refund: fen, currency: 'CNY' }, reason },
  });

  await step(`pay ${REFD} and refund ${R_OK} through the public API: SUCCESS, delivered`, async () => {
    const c = await http('POST', pub('/v1/orders'), {
      body: { out_trade_no: REFD, description: 'Refund me', amount: { total: REFD_FEN, currency: 'CNY' }, payer: { openid: 'o-inspector-test' } },
    });
    check(c.status === 201, `${REFD} created (${c.status})`);
    const p = await http('POST', control(`/control/orders/${REFD}/pay`), { body: {} });
    check(p.status === 200, `paysim took the payment (${p.status})`);
    await waitFor(`${REFD} CONFIRMED`, async () => (await publicState(REFD)) === 'CONFIRMED', { timeout: 20_000 });
    const r = await askRefund(R_OK, R_OK_FEN, 'One item returned');
    check(r.status === 201 && ['PROCESSING', 'SUCCESS'].includes(r.json?.state), `${R_OK} accepted by WeChat (${r.status} ${r.json?.state})`);
    const x = await waitFor(`${R_OK} SUCCESS and delivered`, async () => {
      const y = refundOf(await detail(REFD), R_OK);
      return y && y.state === 'SUCCESS' && y.undelivered.length === 0 ? y : null;
    }, { timeout: 20_000 });
    check(Boolean(x.refund_id), `WeChat's refund_id ${x.refund_id}`);
  });

  await step(`with paysim's abnormal_rate at 1, refund ${R_ABN}: ABNORMAL, needs a person`, async () => {
    await faults({ abnormal_rate: 1 });
    const r = await askRefund(R_ABN, R_ABN_FEN, 'Damaged on arrival');
    check(r.status === 201, `${R_ABN} accepted by WeChat (${r.status} ${r.json?.state})`);
    const x = await waitFor(`${R_ABN} ABNORMAL and refund.abnormal delivered`, async () => {
      const y = refundOf(await detail(REFD), R_ABN);
      return y && y.state === 'ABNORMAL' && y.undelivered.length === 0 ? y : null;
    }, { timeout: 20_000 });
    check(x.needs_a_person === true && !x.resolved_at, `${R_ABN} needs a person (next: ${x.next_action} ${x.next_due})`);
    await faults({ abnormal_rate: 0 });
    const s = (await http('GET', admin('/admin/api/summary'), { token })).json;
    check(s.refunds_by_state?.ABNORMAL === 1 && s.refunds_by_state?.SUCCESS === 1 && s.unresolved?.ABNORMAL_REFUND === 1 && s.needs_a_person === 1,
      `the summary counts them (${JSON.stringify(s.refunds_by_state)}, unresolved ${JSON.stringify(s.unresolved)})`);
  });

  const refundRows = () => page.evaluate(() => [...document.querySelectorAll('[data-testid="refund-row"]')].map((r) => r.dataset.refund).join(','));
  const refundListShows = (what, want) => until(what, (w) => !document.getElementById('refunds-view').hidden
    && [...document.querySelectorAll('[data-testid="refund-row"]')].map((r) => r.dataset.refund).join(',') === w, want);
  const lastRefundsCall = () => [...apiCalls].reverse().find((c) => c.method === 'GET' && c.path === 'refunds');

  await step('the summary shows the refunds by state and the ABNORMAL one needs a person', async () => {
    await page.evaluate(() => { location.hash = '#/orders'; });
    await until('the refund counts', () => {
      const v = (s) => document.querySelector(`[data-testid="refund-count-${s}-value"]`)?.textContent;
      return v('SUCCESS') === '1' && v('ABNORMAL') === '1' && v('PROCESSING') === '0'
        && document.querySelector('[data-testid="needs-a-person-value"]')?.textContent === '1';
    });
    check(true, 'refund tiles: SUCCESS 1, ABNORMAL 1, PROCESSING 0; 1 needs a person');
    check(/1 ABNORMAL refund/.test(await text('[data-testid="needs-a-person-detail"]')), `it says which: "${await text('[data-testid="needs-a-person-detail"]')}"`);
    check((await page.locator('[data-testid="needs-a-person"]').getAttribute('href')) === '#/refunds?state=ABNORMAL'
      && /refund needs a person/.test(await text('#needs-person-label')), `only a refund needs a person: the box says so ("${await text('#needs-person-label')}") and links to the ABNORMAL refunds`);
    check(await page.locator('[data-testid="needs-a-person-refunds"]').isHidden(), 'no second link (that is for when orders need a person too)');
    check(await page.locator('[data-testid="alert-refunds-abnormal"]').count() === 1 && await page.locator('[data-testid="alert-needs-a-person"]').count() === 0,
      'the refund alert is raised, the orders one is not');
    check((await page.locator('[data-testid="refund-count-ABNORMAL"]').getAttribute('class')).includes('tile-alert'), 'the ABNORMAL tile is marked');
  });

  await step('the refunds list: ABNORMAL from "needs a person", every state, SUCCESS, and paging', async () => {
    await page.click('[data-testid="needs-a-person"]');
    await refundListShows('the ABNORMAL refunds', R_ABN);
    check(/#\/refunds\?state=ABNORMAL$/.test(await page.evaluate(() => location.hash)), 'the filter is in the address (#/refunds?state=ABNORMAL)');
    check(lastRefundsCall()?.query.get('state') === 'ABNORMAL', `the page asked for state=ABNORMAL (${lastRefundsCall()?.query})`);
    check(await page.locator('#list-view').isHidden() && await page.locator('#refund-state-filter').inputValue() === 'ABNORMAL', 'the orders list is hidden; the refund filter says ABNORMAL');
    check((await text('#refunds-list-title')) === 'ABNORMAL refunds', `title: ${await text('#refunds-list-title')}`);
    const row = page.locator(`[data-testid="refund-row"][data-refund="${R_ABN}"]`);
    check((await row.getAttribute('data-order')) === REFD && await row.locator('[data-testid="flag-needs-a-person"]').count() === 1, `${R_ABN} of ${REFD}, flagged NEEDS A PERSON`);
    check((await row.innerText()).includes('¥2.00 of ¥10.00'), 'it shows the refund of the total in yuan');
    check((await page.locator('[data-testid="tab-refunds"]').getAttribute('aria-current')) === 'page', 'the Refunds tab is the current one');

    await page.selectOption('#refund-state-filter', '');
    await refundListShows('every refund', `${R_ABN},${R_OK}`);
    check(!lastRefundsCall()?.query.has('state'), 'all states: the page asked without a state');
    await page.selectOption('#refund-state-filter', 'SUCCESS');
    await refundListShows('the SUCCESS refunds', R_OK);
    check(lastRefundsCall()?.query.get('state') === 'SUCCESS', `SUCCESS: the page asked for state=SUCCESS (${lastRefundsCall()?.query})`);

    await page.click('[data-testid="tab-orders"]');
    await page.locator('#list-view').waitFor({ state: 'visible' });
    check(await page.locator('#refunds-view').isHidden(), 'the Orders tab shows the orders again');
    await page.click('[data-testid="tab-refunds"]');
    await refundListShows('back to the SUCCESS refunds', R_OK);
    check(true, 'the Refunds tab comes back with its filter');

    // paycoord pages by 500: cut its first page short (its `next` is the store
    // key of the last refund on it), the second page is paycoord's own answer.
    const firstPage = (url) => url.pathname.endsWith('/api/refunds') && !url.searchParams.has('after');
    await page.route(firstPage, async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      if (Array.isArray(body.refunds) && body.refunds.length > 1) {
        const last = body.refunds[0];
        body.refunds = [last];
        body.next = `r/${last.out_trade_no}/${last.out_refund_no}`;
      }
      await route.fulfill({ status: res.status(), contentType: 'application/json', body: JSON.stringify(body) });
    });
    await page.selectOption('#refund-state-filter', '');
    await refundListShows('page 1 (cut short)', R_ABN);
    check(await page.locator('#refunds-next-page').isEnabled() && await page.locator('#refunds-prev-page').isDisabled(), 'page 1: "next page" enabled, "previous" not');
    await page.click('#refunds-next-page');
    await refundListShows('page 2', R_OK);
    const call = lastRefundsCall();
    check(call.query.get('after') === `r/${REFD}/${R_ABN}` && !call.query.has('state'), `page 2 asked for ${call.query} (the cursor, no state)`);
    check(await page.locator('#refunds-next-page').isDisabled() && /page 2/.test(await text('#refunds-page-label')), `page 2 is the last: ${await text('#refunds-page-label')}`);
    await page.click('#refunds-first-page');
    await refundListShows('page 1 again', R_ABN);
    await page.unroute(firstPage);
    check(true, 'back on the first page');
  });

  await step(`open ${R_ABN} from the list: the order's refunds and that refund's own timeline`, async () => {
    await page.selectOption('#refund-state-filter', 'ABNORMAL');
    await refundListShows('the ABNORMAL refunds', R_ABN);
    await page.locator(`[data-testid="refund-row"][data-refund="${R_ABN}"] [data-testid="refund-link"]`).click();
    await until('the refunded order', (id) => document.getElementById('detail-id')?.textContent === id
      && document.querySelectorAll('[data-testid="refund"]').length === 2, REFD);
    check((await page.evaluate(() => location.hash)) === `#/order/${REFD}?refund=${R_ABN}`, 'the address names the order and the refund');
    check((await text('#back-to-list')).includes('Back to refunds'), 'back goes to the refunds');
    check(await page.locator('#detail-badges [data-testid="flag-refund-abnormal"]').count() === 1
      && (await text('#detail-badges [data-testid="flag-refunded"]')) === 'PART REFUNDED', 'the order is flagged REFUND ABNORMAL and PART REFUNDED');
    check(/¥3\.00 refunded/.test(await text('#refunds-sum')), `sum: ${await text('#refunds-sum')}`);

    const abn = page.locator(`[data-testid="refund"][data-refund="${R_ABN}"]`);
    const ok = page.locator(`[data-testid="refund"][data-refund="${R_OK}"]`);
    check((await abn.locator('[data-testid="refund-state-badge"]').innerText()) === 'ABNORMAL' && await abn.locator('[data-testid="flag-needs-a-person"]').count() === 1, `${R_ABN}: ABNORMAL, NEEDS A PERSON`);
    check((await abn.locator('[data-testid="refund-amount"]').innerText()) === '¥2.00 of ¥10.00', 'its amount in yuan');
    check((await abn.locator('[data-testid="field-refund-refund_id"] dd').innerText()).trim().length > 5, 'its WeChat refund_id');
    check(/query/.test(await abn.locator('[data-testid="field-refund-next"] dd').innerText()), `next: ${await abn.locator('[data-testid="field-refund-next"] dd').innerText()}`);
    check(/resolve/i.test(await abn.locator('[data-testid="refund-hint"]').innerText()), 'its hint says to fix it at WeChat Pay and resolve it');
    check(await abn.locator('[data-testid="refund-verify"]').isEnabled() && await abn.locator('[data-testid="refund-resolve"]').count() === 1, '"verify now" and "resolve" offered');
    check((await ok.locator('[data-testid="refund-state-badge"]').innerText()) === 'SUCCESS' && await ok.locator('[data-testid="flag-needs-a-person"]').count() === 0, `${R_OK}: SUCCESS`);
    check(await ok.locator('[data-testid="refund-verify"]').isDisabled(), 'a final refund has nothing to verify');

    // The address asked for this refund's timeline: only its events.
    const shown = () => page.evaluate(() => [...document.querySelectorAll('[data-testid="event"]')].map((e) => ({ kind: e.dataset.kind, refund: e.dataset.refund || '', to: e.dataset.to || '', acked: e.dataset.acked || '', text: e.innerText })));
    let ev = await shown();
    check(ev.length > 0 && ev.every((e) => e.refund === R_ABN), `the timeline shows only ${R_ABN}'s events (${ev.length})`);
    check((await page.locator('#timeline-filter').inputValue()) === R_ABN && (await abn.locator('[data-testid="refund-timeline"]').getAttribute('aria-pressed')) === 'true', 'the filter and the refund\'s toggle say so');
    const kinds = new Set(ev.map((e) => e.kind));
    check(['refund_requested', 'refund_apply', 'refund_state', 'refund_forward'].every((k) => kinds.has(k)), `its kinds: ${[...kinds].join(', ')}`);
    check(ev.some((e) => e.kind === 'refund_state' && e.to === 'ABNORMAL'), 'the move to ABNORMAL is on it');
    check(ev.some((e) => e.kind === 'refund_forward' && e.acked === 'true' && e.text.includes('refund.abnormal')), 'refund.abnormal delivered and acknowledged');
    check(ev.every((e) => e.text.includes(R_ABN)), 'each event is labelled with the out_refund_no');

    await page.click('[data-testid="timeline-show-all"]');
    await until('every event', () => [...document.querySelectorAll('[data-testid="event"]')].some((e) => !e.dataset.refund));
    ev = await shown();
    check(ev.some((e) => e.kind === 'created') && ev.some((e) => e.refund === R_OK) && ev.some((e) => e.refund === R_ABN), 'all events: the order\'s and both refunds\'');
    check((await page.evaluate(() => location.hash)) === `#/order/${REFD}`, 'the address drops the refund');

    await ok.locator('[data-testid="refund-timeline"]').click();
    await until(`${R_OK}'s events`, (no) => {
      const e = [...document.querySelectorAll('[data-testid="event"]')];
      return e.length > 0 && e.every((x) => x.dataset.refund === no);
    }, R_OK);
    ev = await shown();
    check(ev.some((e) => e.kind === 'refund_state' && e.to === 'SUCCESS') && ev.some((e) => e.kind === 'refund_forward' && e.acked === 'true' && e.text.includes('refund.succeeded')),
      `${R_OK}'s timeline: SUCCESS and refund.succeeded acknowledged (${ev.length} events)`);
    await page.locator('[data-testid="event"] [data-testid="event-refund"]').first().click();
    await until('every event again', () => [...document.querySelectorAll('[data-testid="event"]')].some((e) => !e.dataset.refund));
    check(true, 'the refund label on an event toggles the filter back off');
  });

  const refundResolveCalls = () => apiCalls.filter((c) => c.method === 'POST' && /\/resolve$/.test(c.path) && c.query.has('refund'));

  await step(`resolve ${R_ABN} on the page with a note`, async () => {
    const abn = page.locator(`[data-testid="refund"][data-refund="${R_ABN}"]`);
    await abn.locator('[data-testid="refund-resolve"]').click();
    check(await page.locator('#refund-resolve-form').isVisible() && (await text('#refund-resolve-target')) === R_ABN, `the resolve form is for ${R_ABN}`);
    check(await page.evaluate(() => document.activeElement?.id) === 'refund-resolve-note', 'the note has the focus');
    const submit = page.locator('#refund-resolve-submit');
    check(await submit.isDisabled(), 'an empty note: disabled');
    await page.fill('#refund-resolve-note', 'x'.repeat(NOTE_MAX + 1));
    check(await submit.isDisabled() && /too many/.test(await text('#refund-resolve-count')), `${NOTE_MAX + 1} characters: disabled (${await text('#refund-resolve-count')})`);
    await page.press('#refund-resolve-note', 'Control+Enter');
    await sleep(200);
    check(refundResolveCalls().length === 0, 'nothing sent for it');
    await page.fill('#refund-resolve-note', REFUND_NOTE);
    check(await submit.isEnabled(), 'a real note: enabled');
    fs.mkdirSync(ARTIFACT_DIR, { recursive: true });
    const shot = path.join(ARTIFACT_DIR, 'inspector-refund-resolve-form.png');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: shot, fullPage: true });
    log(`   saved ${shot}`);
    await page.click('#refund-resolve-submit');
    await until('the resolve result', () => document.getElementById('refund-action-result').dataset.outcome === 'resolved');
    log(`   the page says: ${await text('#refund-action-result')}`);
    const sent = refundResolveCalls();
    check(sent.length === 1 && sent[0].path === `orders/${REFD}/resolve` && sent[0].query.get('refund') === R_ABN && JSON.parse(sent[0].body).note === REFUND_NOTE,
      `one POST orders/${REFD}/resolve?refund=${R_ABN} with the note as typed`);
    await until('the refund marked RESOLVED', (no) => Boolean(document.querySelector(`[data-testid="refund"][data-refund="${no}"] [data-testid="flag-resolved"]`)), R_ABN);
    check((await abn.locator('[data-testid="refund-state-badge"]').innerText()) === 'ABNORMAL' && await abn.locator('[data-testid="flag-needs-a-person"]').count() === 0,
      'still ABNORMAL, no longer NEEDS A PERSON');
    check((await abn.locator('[data-testid="field-refund-resolved_note"] dd').textContent()) === REFUND_NOTE, 'the note is shown exactly as written');
    check(await page.locator('#refund-person').isHidden(), 'the resolve form is gone');
    const op = page.locator(`[data-testid="event"][data-kind="operator"][data-action="resolve"][data-refund="${R_ABN}"]`);
    await op.first().waitFor({ state: 'visible' });
    check((await op.locator('[data-testid="event-note"]').textContent()) === REFUND_NOTE, 'the operator event on the timeline carries the note');
    check(await page.locator('#detail-view b, #detail-view img').count() === 0 && (await page.evaluate(() => window.__inspectorXss)) === undefined, 'the markup in the note stayed text');
    check(refundOf(await detail(REFD), R_ABN).resolved_note === REFUND_NOTE, 'paycoord kept the note');
    await until('nobody needed', () => document.querySelector('[data-testid="needs-a-person-value"]')?.textContent === '0'
      && !document.querySelector('[data-testid="alert-refunds-abnormal"]') && document.getElementById('needs-refunds').hidden);
    check(true, 'the summary says 0 need a person; the refund alert and link are gone');
  });

  await step(`fixed at WeChat with its notification lost: the refund's "verify now" finds SUCCESS`, async () => {
    await faults({ notify_drop_rate: 1 });
    const fixed = await http('POST', control(`/control/refunds/${R_ABN}/resolve`), { body: { status: 'SUCCESS' } });
    check(fixed.status === 200, `paysim: WeChat's staff paid ${R_ABN} (${fixed.status})`);
    await sleep(300);
    check(refundOf(await detail(REFD), R_ABN).state === 'ABNORMAL', 'paycoord has not heard of it');
    const abn = page.locator(`[data-testid="refund"][data-refund="${R_ABN}"]`);
    await abn.locator('[data-testid="refund-verify"]').click();
    await until('the verify result', () => document.getElementById('refund-action-result').dataset.outcome === 'accepted');
    log(`   the page says: ${await text('#refund-action-result')}`);
    check(apiCalls.some((c) => c.method === 'POST' && c.path === `orders/${REFD}/refunds/${R_ABN}/verify`), `POST orders/${REFD}/refunds/${R_ABN}/verify sent`);
    await until('SUCCESS on the page', (no) => document.querySelector(`[data-testid="refund"][data-refund="${no}"]`)?.dataset.state === 'SUCCESS', R_ABN);
    check(true, `${R_ABN} shows SUCCESS`);
    const evs = (sel) => page.locator(`[data-testid="event"][data-refund="${R_ABN}"]${sel}`);
    check(await evs('[data-kind="operator"][data-action="verify"]').count() === 1, 'the operator verify is on its timeline');
    check(await evs('[data-kind="refund_query"]').count() >= 1 && await evs('[data-kind="refund_state"][data-to="SUCCESS"]').count() === 1, 'and the refund query that found SUCCESS');
    await evs('[data-kind="refund_forward"][data-acked="true"]').filter({ hasText: 'refund.succeeded' }).first().waitFor({ state: 'visible' });
    check(true, 'refund.succeeded delivered and acknowledged');
    check(await abn.locator('[data-testid="refund-verify"]').isDisabled(), 'final now: nothing to verify');
    check((await text('#detail-badges [data-testid="flag-refunded"]')) === 'PART REFUNDED' && await page.locator('#detail-badges [data-testid="flag-refund-abnormal"]').count() === 0, 'the order is no longer flagged REFUND ABNORMAL');
    await faults({ notify_drop_rate: 0 });
    const report = (await http('GET', control('/control/report?orders=false'))).json;
    check(report?.totals?.wrong_refund_deliveries === 0, `paysim's business server saw no wrong refund delivery (${report?.totals?.wrong_refund_deliveries})`);
    await until('the summary to count it', () => document.querySelector('[data-testid="refund-count-SUCCESS-value"]')?.textContent === '2'
      && document.querySelector('[data-testid="refund-count-ABNORMAL-value"]')?.textContent === '0', null, 12_000);
    check(true, 'the summary counts SUCCESS 2, ABNORMAL 0');
    fs.mkdirSync(ARTIFACT_DIR, { recursive: true });
    await page.mouse.move(0, 0);
    const wide = path.join(ARTIFACT_DIR, 'inspector-refunds.png');
    await page.screenshot({ path: wide, fullPage: true });
    log(`   saved ${wide}`);
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    check(overflow <= 1, `no sideways scrolling with refunds in a 390 px window (overflow ${overflow} px)`);
    const narrow = path.join(ARTIFACT_DIR, 'inspector-refunds-narrow.png');
    await page.screenshot({ path: narrow, fullPage: true });
    log(`   saved ${narrow}`);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('a token that stops working (401) brings the prompt back', async () => {
    await page.evaluate((k) => sessionStorage.setItem(k, 'revoked-token'), TOKEN_KEY);
    await until('the token prompt', () => !document.getElementById('signin-view').hidden
      && /401/.test(document.getElementById('signin-error').textContent), null, 12_000);
    log(`   the page says: ${await text('#signin-error')}`);
    check(await page.locator('#app').isHidden(), 'the data is hidden again');
    await page.fill('#token-input', token);
    await page.click('#signin-submit');
    await page.locator('#app').waitFor({ state: 'visible' });
    check(true, 'signed in again');
  });

  await step('sign out clears the token', async () => {
    await page.click('#sign-out');
    await page.locator('#signin-view').waitFor({ state: 'visible' });
    check((await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY)) === null, 'sessionStorage has no token');
    check(await page.locator('#app').isHidden(), 'no data shown after signing out');
  });

  await step('the page stayed clean', async () => {
    check(pageErrors.length === 0, `no uncaught script errors${pageErrors.length ? `: ${pageErrors.join(' | ')}` : ''}`);
    check(consoleErrors.length === 0, `no console errors (CSP refusals included)${consoleErrors.length ? `: ${consoleErrors.join(' | ')}` : ''}`);
    check(outside.length === 0, `no request left this machine${outside.length ? `: ${outside.join(', ')}` : ''}`);
    check(state.paycoord.alive() && state.paysim.alive(), 'paycoord and paysim still running');
  });
}

try {
  await main();
  clearTimeout(overall);
  await cleanup();
  log(`PASS in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`inspector_browser_test: ${passed} passed, 0 failed`);
  process.exit(0);
} catch (e) {
  clearTimeout(overall);
  await fail(e);
}
