// paycoord inspector: the operator's page over the admin API (CONTRACTS.md §6,
// §10: refunds, and §11: the way out of every parked state).
//
// Plain JS, no build step, no external resources. Every value that comes from
// paycoord (records, events, error messages) is hostile input: it is only ever
// put on the page as text (textContent / createTextNode), never as markup.
'use strict';

(() => {
  // -- constants ---------------------------------------------------------------

  const TOKEN_KEY = 'paycoord.inspector.token';
  const ORDER_KEY = 'paycoord.inspector.newest_first';
  const REFRESH_MS = 5000;
  const PAGE_SIZE = 50;
  // After an operator action the result arrives asynchronously (202): look again soon.
  const FOLLOW_UP_MS = [300, 1000, 2000, 4000];
  // A resolution note: 1–500 characters (counted as Unicode code points).
  const NOTE_MAX = 500;

  const STATES = ['PENDING', 'PAID', 'CONFIRMED', 'CLOSED', 'ANOMALY', 'ORPHAN', 'FAULTED'];
  const PARKED = new Set(['ANOMALY', 'ORPHAN', 'FAULTED']);
  const STATE_HELP = {
    PENDING: 'waiting for payment',
    PAID: 'paid, not yet delivered',
    CONFIRMED: 'delivered and acknowledged',
    CLOSED: 'closed unpaid',
    ANOMALY: 'parked: payment mismatch',
    ORPHAN: 'parked: unknown order',
    FAULTED: 'parked: actor kept crashing',
  };
  const ACTION_NAMES = {
    verify: 'verify query at WeChat',
    expire_query: 'final query at expiry',
    close: 'close at WeChat',
    close_confirm: 'query confirming the close',
    forward: 'deliver to business server',
    none: 'nothing',
  };

  // Refunds (CONTRACTS.md §10). SUCCESS and CLOSED are final; ABNORMAL is
  // parked for a person but still queried, so a fix made at WeChat is noticed.
  const REFUND_STATES = ['REQUESTED', 'PROCESSING', 'SUCCESS', 'CLOSED', 'ABNORMAL'];
  const REFUND_FINAL = new Set(['SUCCESS', 'CLOSED']);
  const REFUND_HELP = {
    REQUESTED: 'recorded, not yet accepted by WeChat',
    PROCESSING: 'accepted, money on its way',
    SUCCESS: 'paid back to the payer',
    CLOSED: 'closed, no money moved',
    ABNORMAL: 'parked: WeChat could not pay it back',
  };
  const REFUND_ACTION_NAMES = {
    apply: 'apply at WeChat (again)',
    query: 'refund query at WeChat',
    deliver: 'deliver to business server',
    none: 'nothing',
  };

  // -- DOM helpers -------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /// Creates an element. `props`: className, text, title, attrs {name: value},
  /// dataset {key: value}, on {event: handler}. Children: nodes or strings (as text).
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    if (props.className) node.className = props.className;
    if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
    if (props.title) node.title = String(props.title);
    for (const [k, v] of Object.entries(props.attrs || {})) node.setAttribute(k, String(v));
    for (const [k, v] of Object.entries(props.dataset || {})) node.dataset[k] = String(v);
    for (const [k, v] of Object.entries(props.on || {})) node.addEventListener(k, v);
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  // -- formatting --------------------------------------------------------------

  /// Integer fen as yuan without floating point: 2599 -> "25.99".
  function yuan(fen) {
    if (typeof fen !== 'number' || !Number.isFinite(fen)) return '?';
    const sign = fen < 0 ? '-' : '';
    const abs = Math.abs(Math.trunc(fen));
    const whole = Math.floor(abs / 100).toLocaleString('en-US');
    return `${sign}${whole}.${String(abs % 100).padStart(2, '0')}`;
  }

  function money(fen, currency) {
    const cur = currency || 'CNY';
    return cur === 'CNY' ? `¥${yuan(fen)}` : `${yuan(fen)} ${cur}`;
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many || one + 's'}`;
  }

  function parseTime(iso) {
    if (typeof iso !== 'string' || iso === '') return null;
    const t = Date.parse(iso);
    return Number.isNaN(t) ? null : t;
  }

  // paycoord writes RFC 3339 in its own zone ("2026-12-02T04:02:26+08:00"); the
  // page shows that wall-clock time as it is, so it matches paycoord's logs.
  const RFC3339 = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  let serverOffset = null; // e.g. "+08:00", learnt from the first time seen

  function splitTime(iso) {
    const m = typeof iso === 'string' ? RFC3339.exec(iso) : null;
    if (!m) return null;
    if (serverOffset === null) {
      serverOffset = m[4];
      renderFooter();
    }
    return { date: m[1], time: m[2], offset: m[4] };
  }

  /// "2026-12-02 04:02:26" (the server's wall clock), or the raw text.
  function wallTime(iso) {
    const p = splitTime(iso);
    return p ? `${p.date} ${p.time}` : String(iso);
  }

  /// Milliseconds since the epoch as RFC 3339 in the server's offset.
  function msToIso(ms) {
    if (typeof ms !== 'number' || !ms) return null;
    const off = serverOffset && serverOffset !== 'Z' ? serverOffset : '+00:00';
    const sign = off[0] === '-' ? -1 : 1;
    const minutes = sign * (Number(off.slice(1, 3)) * 60 + Number(off.slice(4, 6)));
    const local = new Date(ms + minutes * 60000).toISOString().slice(0, 19);
    return `${local}${serverOffset === 'Z' ? 'Z' : off}`;
  }

  function span(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min${s % 60 && m < 10 ? ` ${s % 60} s` : ''}`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`;
    const d = Math.floor(h / 24);
    return `${d} d${h % 24 ? ` ${h % 24} h` : ''}`;
  }

  /// "12 s ago", "in 3 min", "overdue by 5 s" (for due times).
  function relative(iso, { due = false } = {}) {
    const t = parseTime(iso);
    if (t === null) return '';
    const diff = (t - Date.now()) / 1000;
    if (Math.abs(diff) < 1.5) return due ? 'due now' : 'just now';
    if (diff > 0) return `in ${span(diff)}`;
    return due ? `overdue by ${span(-diff)}` : `${span(-diff)} ago`;
  }

  /// A time element that keeps its relative part fresh (see tickRelative).
  function timeNode(iso, { due = false, withDate = true } = {}) {
    if (!iso) return el('span', { className: 'muted', text: '—' });
    const p = splitTime(iso);
    const abs = p ? (withDate ? `${p.date} ${p.time}` : p.time) : String(iso);
    const node = el('span', { className: 'time', title: String(iso) },
      el('time', { className: 'mono', text: abs, attrs: { datetime: String(iso) } }));
    const rel = el('span', { className: 'rel muted', dataset: { relTime: iso, relDue: due ? '1' : '' } });
    rel.textContent = relative(iso, { due });
    node.append(' ', rel);
    return node;
  }

  function tickRelative() {
    for (const node of document.querySelectorAll('[data-rel-time]')) {
      const text = relative(node.dataset.relTime, { due: node.dataset.relDue === '1' });
      if (node.textContent !== text) node.textContent = text;
    }
    renderConnStatus();
  }

  function bytes(n) {
    if (typeof n !== 'number') return '?';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = n;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i += 1;
    }
    return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
  }

  function badge(stateName) {
    const s = String(stateName);
    const cls = STATES.includes(s) ? `badge badge-${s.toLowerCase()}` : 'badge';
    return el('span', { className: cls, text: s, title: STATE_HELP[s] || '', dataset: { testid: 'state-badge', state: s } });
  }

  function flagBadge(text, cls, title, testid = `flag-${text.toLowerCase()}`) {
    return el('span', { className: `badge ${cls}`, text, title, dataset: { testid } });
  }

  function refundBadge(stateName) {
    const s = String(stateName);
    const cls = REFUND_STATES.includes(s) ? `badge badge-refund-${s.toLowerCase()}` : 'badge';
    return el('span', { className: cls, text: s, title: REFUND_HELP[s] || '', dataset: { testid: 'refund-state-badge', state: s } });
  }

  /// A value from the network that should be an object: it, or null.
  function object(v) {
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  }

  /// An order's refunds as the detail answers them (objects only).
  function refundsOf(data) {
    return data && Array.isArray(data.refunds) ? data.refunds.filter((x) => object(x)) : [];
  }

  /// An ABNORMAL refund no person has resolved (the API says so; older answers: derived).
  function refundNeedsPerson(x) {
    if (typeof x.needs_a_person === 'boolean') return x.needs_a_person;
    return x.state === 'ABNORMAL' && !x.resolved_at;
  }

  /// The out_refund_no a timeline event is about ('' for order events and orphans).
  function refundOf(ev) {
    const d = object(ev && ev.detail);
    return d && typeof d.out_refund_no === 'string' ? d.out_refund_no : '';
  }

  function refundAmount(x) {
    const a = object(x.amount) || {};
    return `${money(a.refund, a.currency)} of ${money(a.total, a.currency)}`;
  }

  // -- the API -----------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
    describe() {
      if (this.status === 0) return this.message;
      return `${this.status} ${this.code}: ${this.message}`;
    }
  }

  function getToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return '';
    }
  }

  function setToken(token) {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // sessionStorage unavailable: nothing is kept, the prompt comes back.
    }
  }

  /// Calls the admin API (relative to this page, so a path prefix in front of
  /// /admin/ keeps working), sending `body` (if any) as JSON. Resolves to the
  /// parsed answer; rejects with ApiError. A 401 signs out and brings back the
  /// token prompt.
  async function api(method, path, { token = getToken(), body: payload } = {}) {
    if (!token) {
      if (app.signedIn) needToken(''); // keeps the prompt's message when already out
      throw new ApiError(401, 'UNAUTHORIZED', 'not signed in');
    }
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(`api/${path}`, {
        method,
        headers,
        body: payload === undefined ? undefined : JSON.stringify(payload),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      throw new ApiError(0, 'UNREACHABLE', `paycoord did not answer (${e && e.message ? e.message : 'network error'})`);
    }
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!res.ok) {
      const code = body && typeof body.code === 'string' ? body.code : `HTTP_${res.status}`;
      const message = body && typeof body.message === 'string' ? body.message : text.slice(0, 200) || res.statusText;
      const err = new ApiError(res.status, code, message);
      if (res.status === 401 && token === getToken()) {
        needToken('paycoord refused the token (401 UNAUTHORIZED). Enter it again.');
      }
      throw err;
    }
    return { status: res.status, body };
  }

  // -- application state -------------------------------------------------------

  const app = {
    signedIn: false,
    summary: null,
    summaryJson: '',
    lastOk: 0, // Date.now() of the last successful call
    lastError: null, // ApiError of the last failed refresh, cleared on success
    // The list's filter (state, stuck, unresolved) is in the address; see route().
    list: { state: '', stuck: false, unresolved: false, limit: PAGE_SIZE, cursors: [''], next: null, json: '', loaded: false },
    // The refunds list (all orders), by state: #/refunds?state=ABNORMAL.
    refunds: { state: '', cursors: [''], next: null, json: '', loaded: false },
    view: 'orders', // 'orders' | 'refunds' | 'detail'
    lastList: 'orders', // where "back" goes from an order
    // timelineRefund: the refund whose events alone the timeline shows ('' = all);
    // resolveRefund: the ABNORMAL refund the refund resolve form is for.
    detail: { id: null, json: '', data: null, loading: false, timelineRefund: '', resolveRefund: '' },
    newestFirst: true,
    timer: null,
    followUps: [],
    busy: false,
  };

  // -- sign in / out -----------------------------------------------------------

  function needToken(message, { neutral = false } = {}) {
    setToken('');
    app.signedIn = false;
    stopRefresh();
    show($('app'), false);
    show($('sign-out'), false);
    show($('signin-view'), true);
    const err = $('signin-error');
    err.textContent = message || '';
    err.className = neutral ? 'form-error form-note' : 'form-error';
    show(err, Boolean(message));
    $('token-input').value = '';
    $('token-input').focus();
    renderConnStatus();
  }

  async function signIn(event) {
    event.preventDefault();
    const token = $('token-input').value.trim();
    const err = $('signin-error');
    if (!token) return;
    // fetch() rejects header values outside Latin-1; a token is printable ASCII.
    if (!/^[\x21-\x7e]+$/.test(token)) {
      err.textContent = 'A token is printable ASCII without spaces.';
      show(err, true);
      return;
    }
    $('signin-submit').disabled = true;
    err.textContent = 'Checking the token…';
    err.className = 'form-error form-note';
    show(err, true);
    try {
      await api('GET', 'summary', { token });
      setToken(token);
      show(err, false);
      start();
    } catch (e) {
      err.className = 'form-error';
      if (e.status === 401) {
        err.textContent = 'That token was refused (401 UNAUTHORIZED). Check admin.token in paycoord\'s config.';
      } else {
        err.textContent = `Could not check the token: ${e.describe()}`;
      }
      show(err, true);
      $('token-input').select();
    } finally {
      $('signin-submit').disabled = false;
    }
  }

  function signOut() {
    needToken('Signed out. The token is forgotten in this tab.', { neutral: true });
  }

  function start() {
    app.signedIn = true;
    show($('signin-view'), false);
    show($('app'), true);
    show($('sign-out'), true);
    route();
    startRefresh();
  }

  // -- refresh loop ------------------------------------------------------------

  function startRefresh() {
    stopRefresh();
    refreshAll();
    app.timer = setInterval(() => {
      if (!document.hidden) refreshAll();
    }, REFRESH_MS);
  }

  function stopRefresh() {
    if (app.timer) clearInterval(app.timer);
    app.timer = null;
    for (const t of app.followUps) clearTimeout(t);
    app.followUps = [];
  }

  function refreshAll() {
    if (!app.signedIn) return;
    refreshSummary();
    if (app.detail.id) refreshDetail();
    else if (app.view === 'refunds') refreshRefunds();
    else refreshList();
  }

  function noteOk() {
    app.lastOk = Date.now();
    app.lastError = null;
    renderConnStatus();
  }

  function noteError(e) {
    if (e.status === 401) return; // the prompt is already showing
    app.lastError = e;
    renderConnStatus();
  }

  function renderConnStatus() {
    const node = $('conn-status');
    node.replaceChildren();
    if (!app.signedIn) return;
    if (app.lastError) {
      node.className = 'conn conn-bad';
      const since = app.lastOk ? ` · last good ${span((Date.now() - app.lastOk) / 1000)} ago` : '';
      node.append(el('span', { className: 'dot' }), `Cannot reach paycoord${since} — retrying`);
      return;
    }
    if (!app.lastOk) {
      node.className = 'conn';
      node.textContent = 'Connecting…';
      return;
    }
    const ready = app.summary && app.summary.ready;
    node.className = ready ? 'conn conn-ok' : 'conn conn-warn';
    node.append(el('span', { className: 'dot' }),
      `${ready ? 'Live' : 'Live, not ready'} · updated ${span((Date.now() - app.lastOk) / 1000)} ago`);
  }

  // -- summary -----------------------------------------------------------------

  async function refreshSummary() {
    try {
      const { body } = await api('GET', 'summary');
      app.summary = body || {};
      noteOk();
      const json = JSON.stringify(app.summary);
      if (json !== app.summaryJson) {
        app.summaryJson = json;
        renderSummary();
      }
      $('summary-updated').textContent = `refreshes every ${REFRESH_MS / 1000} s`;
    } catch (e) {
      noteError(e);
    }
  }

  function renderSummary() {
    const s = app.summary || {};
    const counts = s.orders_by_state && typeof s.orders_by_state === 'object' ? s.orders_by_state : {};
    // Parked orders no person has resolved yet, by state. A paycoord without the
    // count (older than CONTRACTS.md §11) has no way to resolve: every parked one counts.
    const unresolved = s.unresolved && typeof s.unresolved === 'object' ? s.unresolved : null;
    const needBy = Object.fromEntries([...PARKED].map((p) => [p, Number((unresolved || counts)[p] || 0)]));
    const needs = typeof s.needs_a_person === 'number' && Number.isFinite(s.needs_a_person) ? s.needs_a_person : null;
    // needs_a_person counts unresolved ABNORMAL refunds too (unresolved.ABNORMAL_REFUND).
    const refundNeeds = unresolved && Number.isFinite(Number(unresolved.ABNORMAL_REFUND)) ? Number(unresolved.ABNORMAL_REFUND) : 0;
    const needTotal = unresolved ? Object.values(needBy).reduce((x, y) => x + y, 0) : needs ?? Number(s.parked || 0);
    const refundCounts = object(s.refunds_by_state);

    // The tiles are buttons: update them in place so keyboard focus survives a refresh.
    const tiles = $('state-counts');
    if (tiles.children.length !== STATES.length) {
      tiles.replaceChildren(...STATES.map((name) => el('button', {
        attrs: { type: 'button' },
        dataset: { testid: `count-${name}`, state: name },
        title: `Show ${name} orders`,
        on: { click: () => showList({ state: name }) },
      },
      el('span', { className: 'tile-count', dataset: { testid: `count-${name}-value` } }),
      el('span', { className: 'tile-name', text: name }),
      el('span', { className: 'tile-help', text: STATE_HELP[name] }))));
    }
    const ordersShown = app.lastList === 'orders'; // the orders list, or an order opened from it
    const plainState = (name) => ordersShown && app.list.state === name && !app.list.stuck && !app.list.unresolved;
    for (const tile of tiles.children) {
      const name = tile.dataset.state;
      const n = Number(counts[name] || 0);
      const attention = PARKED.has(name) && needBy[name] > 0;
      tile.className = `tile tile-${name.toLowerCase()}${attention ? ' tile-alert' : ''}${plainState(name) ? ' tile-active' : ''}`;
      tile.setAttribute('aria-label', `${n} ${name}${PARKED.has(name) && n > 0 ? ` (${needBy[name]} unresolved)` : ''}: show them`);
      tile.querySelector('.tile-count').textContent = n.toLocaleString('en-US');
    }

    // Refunds by state (a paycoord without refunds reports none: no tiles).
    show($('refund-summary'), Boolean(refundCounts));
    if (refundCounts) {
      const refundTiles = $('refund-counts');
      if (refundTiles.children.length !== REFUND_STATES.length) {
        refundTiles.replaceChildren(...REFUND_STATES.map((name) => el('button', {
          attrs: { type: 'button' },
          dataset: { testid: `refund-count-${name}`, state: name },
          title: `Show ${name} refunds`,
          on: { click: () => { location.hash = refundsHash(name); } },
        },
        el('span', { className: 'tile-count', dataset: { testid: `refund-count-${name}-value` } }),
        el('span', { className: 'tile-name', text: name }),
        el('span', { className: 'tile-help', text: REFUND_HELP[name] }))));
      }
      for (const tile of refundTiles.children) {
        const name = tile.dataset.state;
        const n = Number(refundCounts[name] || 0);
        const attention = name === 'ABNORMAL' && refundNeeds > 0;
        const active = !ordersShown && app.refunds.state === name;
        tile.className = `tile tile-refund-${name.toLowerCase()}${attention ? ' tile-alert' : ''}${active ? ' tile-active' : ''}`;
        tile.setAttribute('aria-label', `${n} ${name} refunds${name === 'ABNORMAL' && n > 0 ? ` (${refundNeeds} unresolved)` : ''}: show them`);
        tile.querySelector('.tile-count').textContent = n.toLocaleString('en-US');
      }
    }

    // "Needs a person": a link to the unresolved orders (to the ABNORMAL refunds
    // when only refunds need one), updated in place like the tiles; when both
    // orders and refunds need one, a second link goes to the refunds.
    const needsLink = $('needs-person');
    const onlyUnresolved = ordersShown && app.list.unresolved && !app.list.state && !app.list.stuck;
    const abnormalList = !ordersShown && app.refunds.state === 'ABNORMAL';
    const refundsOnly = refundNeeds > 0 && needTotal === 0;
    needsLink.href = refundsOnly ? refundsHash('ABNORMAL') : listHash({ unresolved: true });
    needsLink.className = `needs-person${needs === null ? '' : needs > 0 ? ' needs-some' : ' needs-none'}${(refundsOnly ? abnormalList : onlyUnresolved) ? ' needs-active' : ''}`;
    needsLink.dataset.count = needs === null ? '' : String(needs);
    $('needs-person-value').textContent = needs === null ? '?' : needs.toLocaleString('en-US');
    $('needs-person-label').textContent = refundNeeds > 0 && needTotal > 0 ? 'need a person'
      : refundsOnly ? (needs === 1 ? 'refund needs a person' : 'refunds need a person')
        : needs === 1 ? 'order needs a person' : 'orders need a person';
    const which = [...PARKED].filter((p) => needBy[p] > 0);
    const whichText = [...which.map((p) => `${needBy[p]} ${p}`), refundNeeds > 0 ? plural(refundNeeds, 'ABNORMAL refund') : null].filter(Boolean);
    $('needs-person-detail').textContent = needs === null
      ? 'this paycoord does not report it'
      : whichText.length ? `${whichText.join(' · ')} — show them` : `every parked order${refundCounts ? ' and ABNORMAL refund' : ''} has been resolved`;
    needsLink.title = refundsOnly ? 'ABNORMAL refunds that no person has resolved yet'
      : `Parked orders (ANOMALY, ORPHAN, FAULTED)${refundCounts ? ' and ABNORMAL refunds' : ''} that no person has resolved yet`;
    needsLink.setAttribute('aria-label', `${needs ?? '?'} ${$('needs-person-label').textContent}: show them`);
    const refundsLink = $('needs-refunds');
    show(refundsLink, refundNeeds > 0 && needTotal > 0);
    refundsLink.href = refundsHash('ABNORMAL');
    refundsLink.className = `needs-person needs-some needs-refunds${abnormalList ? ' needs-active' : ''}`;
    $('needs-refunds-value').textContent = refundNeeds.toLocaleString('en-US');
    $('needs-refunds-label').textContent = refundNeeds === 1 ? 'ABNORMAL refund needs a person' : 'ABNORMAL refunds need a person';
    refundsLink.setAttribute('aria-label', `${refundNeeds} ${$('needs-refunds-label').textContent}: show the ABNORMAL refunds`);

    const stats = $('summary-stats');
    stats.replaceChildren();
    const stat = (key, label, value, { bad = false, help = '' } = {}) => {
      stats.append(el('div', { className: `stat${bad ? ' stat-bad' : ''}`, dataset: { testid: `stat-${key}` }, title: help },
        el('dt', { text: label }), el('dd', { text: value })));
    };
    stat('ready', 'Ready', s.ready === true ? 'yes' : s.ready === false ? 'NO' : '?', { bad: s.ready === false, help: 'recovery has re-armed every open order' });
    stat('stuck', 'Stuck', String(s.stuck ?? '?'), { bad: s.stuck > 0, help: 'PAID orders whose delivery has kept failing past schedule.stuck_after' });
    stat('parked', 'Parked', String(s.parked ?? '?'), { bad: needTotal > 0, help: 'ANOMALY + ORPHAN + FAULTED, resolved or not: paycoord never moves them' });
    stat('live_actors', 'Live actors', String(s.live_actors ?? '?'), { help: 'order actors in memory now' });
    stat('timers_armed', 'Timers armed', String(s.timers_armed ?? '?'), { help: 'orders with a scheduled next action' });
    stat('actor_restarts', 'Actor restarts', String(s.actor_restarts ?? '?'), { bad: s.actor_restarts > 0, help: 'order actors respawned after a crash since start' });
    stat('unreadable_records', 'Unreadable records', String(s.unreadable_records ?? '?'), { bad: s.unreadable_records > 0, help: 'store records that do not decode' });
    stat('store_bytes', 'Store size', bytes(s.store_bytes), { help: 'approximate LevelDB size' });
    stat('uptime', 'Uptime', typeof s.uptime_seconds === 'number' ? span(s.uptime_seconds) : '?');

    // Alerts hold buttons too: rebuild them only when what they say changes.
    const alerts = $('summary-alerts');
    const signature = JSON.stringify([s.ready, s.stuck, needTotal, s.unreadable_records, needBy, refundNeeds]);
    if (alerts.dataset.signature === signature) return;
    alerts.dataset.signature = signature;
    alerts.replaceChildren();
    const alert = (key, tone, text, buttons = []) => {
      alerts.append(el('div', { className: `alert alert-${tone}`, dataset: { testid: `alert-${key}` }, attrs: { role: 'alert' } },
        el('span', { className: 'alert-text', text }), ...buttons));
    };
    const jump = (filter, label) => el('button', { className: 'btn btn-small', text: label, attrs: { type: 'button' }, on: { click: () => showList(filter) } });
    if (s.ready === false) {
      alert('not-ready', 'bad', 'paycoord is not ready: recovery has not finished re-arming the open orders. New orders and notifications are refused (503) until it has.');
    }
    if (s.stuck > 0) {
      alert('stuck', 'bad', `${plural(s.stuck, 'order is', 'orders are')} stuck: delivery to the business server keeps failing. Fix the business server first, then open each STUCK order and press “Forward now”.`,
        [jump({ stuck: true }, 'Show stuck orders')]);
    }
    if (needTotal > 0) {
      alert('needs-a-person', 'bad', `${plural(needTotal, 'order needs', 'orders need')} a person (${which.map((p) => `${needBy[p]} ${p}`).join(', ')}): parked, nothing moves them until someone looks. Open each one, follow its hint, then resolve it with a note${needBy.FAULTED > 0 ? ' (or retry a FAULTED one)' : ''}.`,
        [jump({ unresolved: true }, 'Show them')]);
    }
    if (refundNeeds > 0) {
      alert('refunds-abnormal', 'bad', `${plural(refundNeeds, 'refund is', 'refunds are')} ABNORMAL and need${refundNeeds === 1 ? 's' : ''} a person: WeChat Pay could not pay the money back (the payer's account cannot take it). Fix it at the WeChat Pay merchant platform, then open the order and resolve the refund with a note; paycoord keeps asking WeChat and delivers the outcome.`,
        [el('button', { className: 'btn btn-small', text: 'Show ABNORMAL refunds', attrs: { type: 'button' }, on: { click: () => { location.hash = refundsHash('ABNORMAL'); } } })]);
    }
    if (s.unreadable_records > 0) {
      alert('unreadable', 'bad', `${plural(s.unreadable_records, 'stored record does', 'stored records do')} not decode. Escalate to engineering: look for store errors in paycoord's log.`);
    }
  }

  // -- order list --------------------------------------------------------------

  /// The list's address for a filter: #/orders?state=PAID&stuck=true&unresolved=true
  /// (the page size, when not the default, is kept).
  function listHash({ state = '', stuck = false, unresolved = false } = {}) {
    const params = new URLSearchParams();
    if (STATES.includes(state)) params.set('state', state);
    if (stuck) params.set('stuck', 'true');
    if (unresolved) params.set('unresolved', 'true');
    if (app.list.limit !== PAGE_SIZE) params.set('limit', String(app.list.limit));
    const q = params.toString();
    return q ? `#/orders?${q}` : '#/orders';
  }

  function showList(filter = {}) {
    location.hash = listHash(filter);
  }

  function currentFilter() {
    return { state: app.list.state, stuck: app.list.stuck, unresolved: app.list.unresolved };
  }

  /// The filter as the toolbar shows it now (read from the controls, not from
  /// app.list: two quick changes come before the first one's hashchange).
  function toolbarFilter() {
    return { state: $('state-filter').value, stuck: $('filter-stuck').checked, unresolved: $('filter-unresolved').checked };
  }

  /// "unresolved ANOMALY orders", "stuck orders", "all orders".
  function filterLabel() {
    const words = [app.list.unresolved ? 'unresolved' : '', app.list.stuck ? 'stuck' : '', app.list.state].filter(Boolean);
    return words.length ? `${words.join(' ')} orders` : 'all orders';
  }

  // Every page of a filtered list carries the same filter; only `after` changes.
  function listPath() {
    const params = new URLSearchParams();
    if (app.list.state) params.set('state', app.list.state);
    if (app.list.stuck) params.set('stuck', 'true');
    if (app.list.unresolved) params.set('unresolved', 'true');
    params.set('limit', String(app.list.limit));
    const after = app.list.cursors[app.list.cursors.length - 1];
    if (after) params.set('after', after);
    return `orders?${params}`;
  }

  async function refreshList() {
    const wanted = listPath();
    try {
      const { body } = await api('GET', wanted);
      if (wanted !== listPath() || app.detail.id) return; // the operator moved on meanwhile
      noteOk();
      show($('list-error'), false);
      const json = JSON.stringify(body);
      app.list.loaded = true;
      if (json === app.list.json) return;
      app.list.json = json;
      app.list.next = body && typeof body.next === 'string' && body.next ? body.next : null;
      renderList(Array.isArray(body && body.orders) ? body.orders : []);
    } catch (e) {
      noteError(e);
      if (e.status !== 401) {
        $('list-error').textContent = `Could not load the orders: ${e.describe()}`;
        show($('list-error'), true);
      }
    }
  }

  function renderList(orders) {
    const body = $('orders-body');
    body.replaceChildren();
    for (const r of orders) {
      if (!r || typeof r !== 'object') continue;
      const id = String(r.out_trade_no ?? '');
      const state = String(r.state ?? '');
      const resolved = PARKED.has(state) && Boolean(r.resolved_at);
      const rowClass = PARKED.has(state) ? (resolved ? 'row-resolved' : 'row-parked') : r.stuck && state === 'PAID' ? 'row-stuck' : '';
      const stateCell = el('td', { attrs: { 'data-label': 'State' } }, el('span', { className: 'badges' }, badge(state),
        r.stuck && state === 'PAID' ? flagBadge('STUCK', 'badge-stuck', 'delivery keeps failing') : null,
        resolved ? flagBadge('RESOLVED', 'badge-resolved', `resolved by a person ${wallTime(r.resolved_at)}`) : null,
        r.late ? flagBadge('LATE', 'badge-late', 'paid after paycoord closed it') : null));
      let next;
      if (r.action && r.action !== 'none' && r.next_due) {
        next = el('span', {}, el('span', { text: ACTION_NAMES[r.action] || String(r.action) }), ' ',
          el('span', { className: 'rel muted', text: relative(r.next_due, { due: true }), dataset: { relTime: r.next_due, relDue: '1' } }));
      } else {
        next = el('span', { className: 'muted', text: PARKED.has(state) ? (resolved ? 'parked — resolved' : 'parked — needs a person') : '—' });
      }
      const link = el('a', { className: 'mono order-link', text: id, attrs: { href: `#/order/${encodeURIComponent(id)}` }, dataset: { testid: 'order-link' } });
      const row = el('tr', { className: rowClass, dataset: { testid: 'order-row', id, state, resolved: resolved ? 'true' : 'false' } },
        el('td', { attrs: { 'data-label': 'Order' } }, link),
        stateCell,
        el('td', { className: 'num', attrs: { 'data-label': 'Amount' }, text: money(r.amount_total, r.currency) }),
        el('td', { attrs: { 'data-label': 'Next' } }, next),
        el('td', { attrs: { 'data-label': 'Updated' } }, el('span', { className: 'rel', text: relative(r.updated_at), title: wallTime(r.updated_at), dataset: { relTime: r.updated_at || '' } })));
      row.addEventListener('click', (ev) => {
        if (ev.target.closest('a')) return;
        location.hash = `#/order/${encodeURIComponent(id)}`;
      });
      body.append(row);
    }
    const page = app.list.cursors.length;
    const filter = filterLabel();
    const filtered = filter !== 'all orders';
    const onlyUnresolved = app.list.unresolved && !app.list.state && !app.list.stuck;
    const onThisPage = page > 1 || app.list.next ? ' on this page' : '';
    show($('list-empty'), orders.length === 0);
    $('list-empty').textContent = onlyUnresolved ? `No order needs a person${onThisPage}.`
      : filtered ? `No ${filter}${onThisPage}.` : 'No orders yet.';
    $('list-title').textContent = onlyUnresolved ? 'Orders that need a person'
      : filtered ? filter.charAt(0).toUpperCase() + filter.slice(1) : 'Orders';
    $('list-page-label').textContent = `${filter} · page ${page} · ${plural(orders.length, 'order')}${app.list.next ? ' · more on the next page' : ''}`;
    $('next-page').disabled = !app.list.next;
    $('prev-page').disabled = page <= 1;
    $('first-page').disabled = page <= 1;
  }

  function resetListCache() {
    app.list.json = '';
    app.list.loaded = false;
  }

  function nextPage() {
    if (!app.list.next) return;
    app.list.cursors.push(app.list.next);
    resetListCache();
    refreshList();
  }

  function prevPage() {
    if (app.list.cursors.length <= 1) return;
    app.list.cursors.pop();
    resetListCache();
    refreshList();
  }

  function firstPage() {
    app.list.cursors = [''];
    resetListCache();
    refreshList();
  }

  // -- refunds list (all orders, by state) --------------------------------------

  function refundsHash(state = '') {
    return REFUND_STATES.includes(state) ? `#/refunds?state=${state}` : '#/refunds';
  }

  // Every page carries the same state filter; only `after` (a store key) changes.
  function refundsPath() {
    const params = new URLSearchParams();
    if (app.refunds.state) params.set('state', app.refunds.state);
    const after = app.refunds.cursors[app.refunds.cursors.length - 1];
    if (after) params.set('after', after);
    const q = params.toString();
    return q ? `refunds?${q}` : 'refunds';
  }

  async function refreshRefunds() {
    const wanted = refundsPath();
    try {
      const { body } = await api('GET', wanted);
      if (wanted !== refundsPath() || app.view !== 'refunds') return; // the operator moved on meanwhile
      noteOk();
      show($('refunds-error'), false);
      const json = JSON.stringify(body);
      app.refunds.loaded = true;
      if (json === app.refunds.json) return;
      app.refunds.json = json;
      app.refunds.next = body && typeof body.next === 'string' && body.next ? body.next : null;
      renderRefundsList(Array.isArray(body && body.refunds) ? body.refunds.filter((x) => object(x)) : []);
    } catch (e) {
      noteError(e);
      if (e.status !== 401) {
        $('refunds-error').textContent = `Could not load the refunds: ${e.describe()}`;
        show($('refunds-error'), true);
      }
    }
  }

  /// `#/order/<id>?refund=<no>`: the order with this refund's timeline.
  function refundHash(orderId, no) {
    return `#/order/${encodeURIComponent(orderId)}${no ? `?refund=${encodeURIComponent(no)}` : ''}`;
  }

  /// What comes next for a refund, as a node (list rows and cards).
  function refundNext(x) {
    const st = String(x.state ?? '');
    if (x.next_action && x.next_action !== 'none' && x.next_due) {
      return el('span', {}, el('span', { text: REFUND_ACTION_NAMES[x.next_action] || String(x.next_action) }), ' ',
        el('span', { className: 'rel muted', text: relative(x.next_due, { due: true }), dataset: { relTime: x.next_due, relDue: '1' } }));
    }
    const why = refundNeedsPerson(x) ? 'parked — needs a person' : REFUND_FINAL.has(st) ? 'final' : '—';
    return el('span', { className: 'muted', text: why });
  }

  function renderRefundsList(refunds) {
    const body = $('refunds-body');
    body.replaceChildren();
    for (const x of refunds) {
      const no = String(x.out_refund_no ?? '');
      const orderId = String(x.out_trade_no ?? '');
      const st = String(x.state ?? '');
      const needs = refundNeedsPerson(x);
      const resolved = Boolean(x.resolved_at);
      const undelivered = Array.isArray(x.undelivered) ? x.undelivered : [];
      const rowClass = needs ? 'row-parked' : st === 'ABNORMAL' && resolved ? 'row-resolved' : undelivered.length && x.first_delivery_failure ? 'row-stuck' : '';
      const link = el('a', { className: 'mono order-link', text: no, attrs: { href: refundHash(orderId, no) }, dataset: { testid: 'refund-link' } });
      const orderLink = el('a', { className: 'mono order-link', text: orderId, attrs: { href: refundHash(orderId, '') }, dataset: { testid: 'refund-order-link' } });
      const row = el('tr', { className: rowClass, dataset: { testid: 'refund-row', refund: no, order: orderId, state: st, resolved: resolved ? 'true' : 'false' } },
        el('td', { attrs: { 'data-label': 'Refund' } }, link),
        el('td', { attrs: { 'data-label': 'Order' } }, orderLink),
        el('td', { attrs: { 'data-label': 'State' } }, el('span', { className: 'badges' }, refundBadge(st),
          needs ? flagBadge('NEEDS A PERSON', 'badge-parked', 'ABNORMAL and no person has resolved it', 'flag-needs-a-person') : null,
          resolved ? flagBadge('RESOLVED', 'badge-resolved', `resolved by a person ${wallTime(x.resolved_at)}`) : null,
          undelivered.length ? flagBadge('UNDELIVERED', 'badge-stuck', `not yet acknowledged by the business server: ${undelivered.join(', ')}`) : null)),
        el('td', { className: 'num', attrs: { 'data-label': 'Amount' }, text: refundAmount(x) }),
        el('td', { attrs: { 'data-label': 'Next' } }, refundNext(x)),
        el('td', { attrs: { 'data-label': 'Updated' } }, el('span', { className: 'rel', text: relative(x.updated_at), title: wallTime(x.updated_at), dataset: { relTime: x.updated_at || '' } })));
      row.addEventListener('click', (ev) => {
        if (ev.target.closest('a')) return;
        location.hash = refundHash(orderId, no);
      });
      body.append(row);
    }
    const page = app.refunds.cursors.length;
    const what = app.refunds.state ? `${app.refunds.state} refunds` : 'all refunds';
    const more = app.refunds.next ? ' on this page; more on the next page' : page > 1 ? ' on this page' : '';
    show($('refunds-empty'), refunds.length === 0);
    $('refunds-empty').textContent = app.refunds.state ? `No ${what}${more}.` : `No refunds yet${more}.`;
    $('refunds-list-title').textContent = app.refunds.state ? `${app.refunds.state} refunds` : 'Refunds';
    $('refunds-page-label').textContent = `${what} · page ${page} · ${plural(refunds.length, 'refund')}${app.refunds.next ? ' · more on the next page' : ''}`;
    $('refunds-next-page').disabled = !app.refunds.next;
    $('refunds-prev-page').disabled = page <= 1;
    $('refunds-first-page').disabled = page <= 1;
  }

  function turnRefundsPage(cursors) {
    app.refunds.cursors = cursors;
    app.refunds.json = '';
    app.refunds.loaded = false;
    refreshRefunds();
  }

  // -- order detail ------------------------------------------------------------

  async function refreshDetail() {
    const id = app.detail.id;
    if (!id) return;
    try {
      const { body } = await api('GET', `orders/${encodeURIComponent(id)}`);
      if (app.detail.id !== id) return;
      noteOk();
      show($('detail-error'), false);
      const json = JSON.stringify(body);
      $('detail-updated').textContent = `refreshes every ${REFRESH_MS / 1000} s`;
      if (json === app.detail.json) return;
      app.detail.json = json;
      app.detail.data = body || {};
      renderDetail();
    } catch (e) {
      if (app.detail.id !== id) return;
      if (e.status === 404) {
        noteOk();
        app.detail.json = '';
        app.detail.data = null;
        show($('detail-body'), false);
        $('detail-error').textContent = `No order “${id}” (404 ${e.code}). Check the out_trade_no: it is case-sensitive.`;
        show($('detail-error'), true);
        return;
      }
      noteError(e);
      if (e.status !== 401) {
        $('detail-error').textContent = `Could not load the order: ${e.describe()}`;
        show($('detail-error'), true);
      }
    }
  }

  function field(dl, key, label, value, { mono = false, tone = '', help = '' } = {}) {
    let v;
    if (value instanceof Node) v = value;
    else if (value === null || value === undefined || value === '') v = el('span', { className: 'muted', text: '—' });
    else v = el('span', { className: mono ? 'mono' : '', text: value });
    dl.append(el('div', { className: `field${tone ? ` field-${tone}` : ''}`, dataset: { testid: `field-${key}` }, title: help },
      el('dt', { text: label }), el('dd', {}, v)));
  }

  function stateHint(r) {
    const state = String(r.state ?? '');
    const before = r.faulted_from ? String(r.faulted_from) : 'its earlier state';
    if (PARKED.has(state) && r.resolved_at) {
      return { tone: 'info', text: `Resolved by a person ${wallTime(r.resolved_at)} (the note is below). It stays ${state}${state === 'ANOMALY' ? ' and is never forwarded' : ''}, but no longer counts as needing a person.${state === 'FAULTED' ? ` “Retry” still puts it back to ${before}.` : ''}` };
    }
    if (state === 'ANOMALY') {
      return { tone: 'bad', text: `Parked: the payment does not match this order${r.parked_reason ? ` (${r.parked_reason})` : ''}. It is never forwarded. Reconcile with finance / WeChat Pay merchant platform (refund or correct the business order); paycoord will not move it. Then resolve it below with a note saying what was done.` };
    }
    if (state === 'ORPHAN') {
      return { tone: 'bad', text: `Parked: WeChat Pay reported this for an order paycoord never created${r.parked_reason ? ` (${r.parked_reason})` : ''}. Find the business order it belongs to, or refund it at WeChat Pay; then resolve it below with a note.` };
    }
    if (state === 'FAULTED') {
      return { tone: 'bad', text: `Parked: this order's actor kept crashing${r.parked_reason ? ` (${r.parked_reason})` : ''}. Search paycoord's log for this out_trade_no and escalate to engineering. Once the cause is fixed, “Retry” puts it back to ${before} with a fresh restart budget; or resolve it with a note.` };
    }
    if (state === 'PAID' && r.stuck) {
      return { tone: 'bad', text: `Stuck: delivery to the business server has been failing since ${r.first_forward_failure ? wallTime(r.first_forward_failure) : 'a while'}. Check the business server (is it up? its log for this order), then press “Forward now”.` };
    }
    if (state === 'PAID' && Number(r.forward_attempts) > 0) {
      return { tone: 'warn', text: `Paid, delivery failed ${plural(Number(r.forward_attempts), 'time')} so far; paycoord keeps retrying. “Forward now” retries at once.` };
    }
    if (state === 'PAID') {
      return { tone: 'warn', text: 'Paid: delivery to the business server is under way.' };
    }
    if (state === 'CLOSED') {
      return { tone: 'info', text: 'Closed unpaid at WeChat Pay. If the customer says they paid, press “Verify now”: a SUCCESS is never dropped.' };
    }
    if (state === 'PENDING') {
      return { tone: 'info', text: 'Waiting for the customer to pay; paycoord queries WeChat Pay on its schedule. “Verify now” asks at once.' };
    }
    return null;
  }

  function renderDetail() {
    const data = app.detail.data || {};
    const r = data.record && typeof data.record === 'object' ? data.record : {};
    const a = data.actor && typeof data.actor === 'object' ? data.actor : {};
    const events = Array.isArray(data.events) ? data.events : [];
    const state = String(r.state ?? '');

    show($('detail-body'), true);
    $('detail-id').textContent = String(r.out_trade_no ?? app.detail.id);
    const badges = $('detail-badges');
    badges.replaceChildren(badge(state));
    if (r.stuck && state === 'PAID') badges.append(flagBadge('STUCK', 'badge-stuck', 'delivery keeps failing'));
    const resolved = PARKED.has(state) && Boolean(r.resolved_at);
    if (PARKED.has(state)) badges.append(flagBadge('PARKED', 'badge-parked', 'paycoord never moves it'));
    if (resolved) badges.append(flagBadge('RESOLVED', 'badge-resolved', `resolved by a person ${wallTime(r.resolved_at)}`));
    if (r.late) badges.append(flagBadge('LATE', 'badge-late', 'paid after paycoord closed it'));
    const refunds = refundsOf(data);
    const refunded = refunds.filter((x) => x.state === 'SUCCESS').reduce((sum, x) => sum + Number(object(x.amount)?.refund || 0), 0);
    if (refunds.some(refundNeedsPerson)) {
      badges.append(flagBadge('REFUND ABNORMAL', 'badge-parked', 'a refund of this order needs a person (see Refunds below)', 'flag-refund-abnormal'));
    }
    if (refunded > 0) {
      const whole = typeof r.amount_total === 'number' && refunded >= r.amount_total;
      badges.append(flagBadge(whole ? 'REFUNDED' : 'PART REFUNDED', 'badge-late', `${money(refunded, r.currency)} paid back to the payer`, 'flag-refunded'));
    } else if (refunds.length > 0) {
      badges.append(flagBadge('REFUND', 'badge-late', 'refunds asked for, none paid back yet (see Refunds below)'));
    } else if (events.some((e) => e && e.kind === 'notify_event' && /^REFUND\./.test(String(e.detail && e.detail.event_type)))) {
      // A paycoord older than refunds: a refund shows only as a notification on the timeline.
      badges.append(flagBadge('REFUND', 'badge-late', 'a refund notification from WeChat Pay is on the timeline'));
    }
    $('detail-amount').replaceChildren(
      el('span', { className: 'amount-yuan', text: money(r.amount_total, r.currency) }),
      el('span', { className: 'muted', text: ` ${typeof r.amount_total === 'number' ? r.amount_total : '?'} fen` }),
      r.description ? el('span', { className: 'amount-desc', text: ` · ${r.description}` }) : null);

    const hint = stateHint(r);
    const hintNode = $('detail-hint');
    show(hintNode, Boolean(hint));
    if (hint) {
      hintNode.className = `hint hint-${hint.tone}`;
      hintNode.textContent = hint.text;
    }

    // Actions: the API refuses the others with 409; say why up front.
    const canVerify = state === 'PENDING' || state === 'CLOSED';
    const canForward = state === 'PAID';
    $('verify-now').disabled = !canVerify || app.busy;
    $('forward-now').disabled = !canForward || app.busy;
    $('verify-why').textContent = canVerify ? 'query WeChat Pay for this order now' : 'only for PENDING or CLOSED orders';
    $('forward-why').textContent = canForward ? 'deliver to the business server now' : 'only for PAID orders';
    renderPersonActions(r);

    const rec = $('detail-record');
    rec.replaceChildren();
    field(rec, 'state', 'State', badge(state));
    field(rec, 'amount', 'Amount', `${money(r.amount_total, r.currency)}  (${r.amount_total ?? '?'} fen)`);
    if (typeof r.payer_total === 'number' && r.payer_total !== 0 && r.payer_total !== r.amount_total) {
      field(rec, 'payer_total', 'Payer paid', `${money(r.payer_total, r.currency)}  (${r.payer_total} fen)`, { help: 'amount.payer_total reported by WeChat Pay (after coupons)' });
    }
    field(rec, 'transaction_id', 'WeChat transaction', r.transaction_id, { mono: true });
    field(rec, 'paid_via', 'Paid via', r.via && r.via !== 'none' ? (r.via === 'query' ? 'query (our verify found it)' : r.via === 'notify' ? 'notify (WeChat told us)' : String(r.via)) : '', { help: 'how paycoord learnt of the payment' });
    field(rec, 'late', 'Late', r.late ? 'yes — paid after paycoord closed it' : 'no', { tone: r.late ? 'warn' : '' });
    field(rec, 'stuck', 'Stuck', r.stuck ? 'yes — delivery keeps failing' : 'no', { tone: r.stuck ? 'bad' : '' });
    if (r.parked_reason || PARKED.has(state)) field(rec, 'parked_reason', 'Parked because', r.parked_reason, { tone: resolved ? '' : 'bad' });
    if (state === 'FAULTED') {
      field(rec, 'faulted_from', 'State before it faulted', r.faulted_from, { help: '“Retry” puts the order back in this state' });
    }
    if (PARKED.has(state) || r.resolved_at) {
      field(rec, 'resolved_at', 'Resolved', r.resolved_at ? timeNode(r.resolved_at) : 'no — needs a person', { tone: r.resolved_at ? '' : 'bad' });
      if (r.resolved_at || r.resolved_note) {
        field(rec, 'resolved_note', 'Resolution note', r.resolved_note ? el('span', { className: 'note-text', text: r.resolved_note }) : '');
      }
    }
    field(rec, 'forward_attempts', 'Delivery attempts', String(r.forward_attempts ?? 0));
    field(rec, 'queries', 'WeChat queries', String(r.queries ?? 0));
    field(rec, 'description', 'Description', r.description);
    field(rec, 'payer_openid', 'Payer openid', r.payer_openid, { mono: true });
    if (r.attach) field(rec, 'attach', 'Attach', r.attach, { mono: true });
    field(rec, 'prepay_id', 'Prepay id', r.prepay_id, { mono: true });

    const actor = $('detail-actor');
    actor.replaceChildren();
    field(actor, 'alive', 'In memory', a.alive ? 'yes' : a.passivated ? 'no (passivated)' : 'no',
      { help: a.passivated ? 'open, with nothing due soon: its timer waits in the store and loads it when it fires'
                           : 'an order actor is loaded now (finished and idle orders have none)' });
    const armed = a.next_action && a.next_due;
    field(actor, 'next_action', 'Next action', armed ? (ACTION_NAMES[a.next_action] || String(a.next_action)) : (PARKED.has(state) ? 'none — parked' : 'none'));
    field(actor, 'next_due', 'Due', armed ? timeNode(a.next_due, { due: true }) : '');
    const attemptsLabel = state === 'PAID' ? 'Attempts (deliveries)' : state === 'PENDING' ? 'Attempts (queries)' : 'Attempts';
    field(actor, 'attempts', attemptsLabel, a.alive ? String(a.attempts ?? 0) : '', { help: 'deliveries while PAID, WeChat queries while PENDING' });
    field(actor, 'restarts', 'Restarts', String(a.restarts ?? 0), { tone: a.restarts > 0 ? 'warn' : '' });
    field(actor, 'in_flight', 'Call in flight', a.in_flight ? 'yes' : 'no');
    if (a.alive) {
      field(actor, 'actor_state', 'Actor state', a.state ? String(a.state) : '—');
      field(actor, 'mailbox_size', 'Mailbox', String(a.mailbox_size ?? 0),
        { tone: a.mailbox_size > 100 ? 'warn' : '', help: 'messages waiting for this order actor' });
    }

    const times = $('detail-times');
    times.replaceChildren();
    for (const [key, label] of [['created_at', 'Created'], ['paid_at', 'Paid (at WeChat)'], ['paid_recorded_at', 'Payment recorded'],
      ['confirmed_at', 'Confirmed'], ['updated_at', 'Updated'], ['expire_at', 'Expires'], ['last_query_at', 'Last query'],
      ['first_forward_failure', 'First delivery failure']]) {
      // Shown only when set (and paid_recorded_at only where paycoord reports it).
      if ((key === 'first_forward_failure' || key === 'paid_recorded_at') && !r[key]) continue;
      field(times, key, label, r[key] ? timeNode(r[key]) : '');
    }

    renderRefunds(refunds, r);
    renderTimeline(events, data);
  }

  // -- the order's refunds -------------------------------------------------------

  function refundHint(x) {
    const st = String(x.state ?? '');
    const err = object(x.last_error);
    const errText = err ? `${err.code ?? '?'}${err.message ? `: ${err.message}` : ''}` : '';
    const undelivered = Array.isArray(x.undelivered) && x.undelivered.length > 0;
    const delivering = undelivered ? ` The business server has not acknowledged ${x.undelivered.join(', ')} yet; paycoord keeps retrying.` : '';
    switch (st) {
      case 'REQUESTED':
        return { tone: err ? 'warn' : 'info', text: err
          ? `Not yet accepted by WeChat Pay: the last apply failed (${errText}). paycoord applies again with the same out_refund_no; “Verify now” asks WeChat whether it has it.`
          : 'Recorded; paycoord is asking WeChat Pay to refund it.' };
      case 'PROCESSING':
        return { tone: 'info', text: 'Accepted by WeChat Pay; the money is on its way. paycoord asks WeChat on its schedule (schedule.refund_verify); “Verify now” asks at once.' };
      case 'SUCCESS':
        return { tone: undelivered ? 'warn' : 'good', text: `Paid back to the payer.${delivering}` };
      case 'CLOSED':
        return { tone: undelivered ? 'warn' : 'info', text: `Closed: no money moved${err ? ` (${errText})` : ''}. What it would have refunded can be refunded again under a new out_refund_no.${delivering}` };
      case 'ABNORMAL':
        if (x.resolved_at) {
          return { tone: 'info', text: `Resolved by a person ${wallTime(x.resolved_at)} (the note is below). It stays ABNORMAL until WeChat Pay reports otherwise — paycoord keeps asking — but no longer counts as needing a person.${delivering}` };
        }
        return { tone: 'bad', text: `ABNORMAL: WeChat Pay could not pay the money back (the payer's account cannot take it). Fix it at the WeChat Pay merchant platform (another account, or offline); paycoord keeps asking WeChat and delivers the outcome. Then resolve it with a note saying what was done.${delivering}` };
      default:
        return null;
    }
  }

  /// One refund: state, amounts, WeChat's refund_id, last error, what is next,
  /// undelivered events, the resolution; "verify now", "resolve", its timeline.
  function refundCard(x, eventCounts) {
    const no = String(x.out_refund_no ?? '');
    const st = String(x.state ?? '');
    const needs = refundNeedsPerson(x);
    const resolved = Boolean(x.resolved_at);
    const undelivered = Array.isArray(x.undelivered) ? x.undelivered.map(String) : [];
    const err = object(x.last_error);
    const filtered = app.detail.timelineRefund === no;

    const head = el('div', { className: 'refund-head' },
      el('span', { className: 'refund-no mono', text: no, dataset: { testid: 'refund-no' } }),
      el('span', { className: 'badges' }, refundBadge(st),
        needs ? flagBadge('NEEDS A PERSON', 'badge-parked', 'ABNORMAL and no person has resolved it', 'flag-needs-a-person') : null,
        resolved ? flagBadge('RESOLVED', 'badge-resolved', `resolved by a person ${wallTime(x.resolved_at)}`) : null,
        undelivered.length ? flagBadge('UNDELIVERED', 'badge-stuck', `not yet acknowledged by the business server: ${undelivered.join(', ')}`) : null),
      el('span', { className: 'refund-amount', text: refundAmount(x), dataset: { testid: 'refund-amount' } }));

    const hint = refundHint(x);
    const hintNode = hint ? el('p', { className: `hint hint-${hint.tone} refund-hint`, text: hint.text, dataset: { testid: 'refund-hint' } }) : null;

    const dl = el('dl', { className: 'fields refund-fields' });
    const f = (key, label, value, opts) => field(dl, `refund-${key}`, label, value, opts);
    f('refund_id', 'WeChat refund_id', x.refund_id, { mono: true });
    if (x.reason) f('reason', 'Reason', String(x.reason));
    f('next', 'Next', refundNext(x));
    if (err || st === 'REQUESTED') {
      f('last_error', 'Last error', err ? `${err.code ?? '?'}${err.message ? ` — ${err.message}` : ''}` : '', { tone: err ? 'bad' : '' });
    }
    if (undelivered.length || x.first_delivery_failure) {
      const attempts = Number(x.delivery_attempts || 0);
      const detail = [undelivered.join(', '), attempts ? `${plural(attempts, 'failed attempt')}` : null,
        x.first_delivery_failure ? `failing since ${wallTime(x.first_delivery_failure)}` : null].filter(Boolean).join(' · ');
      f('undelivered', 'Undelivered', detail, { tone: x.first_delivery_failure ? 'bad' : 'warn', help: 'business callback events not yet acknowledged, oldest first; retried until a 2xx' });
    }
    f('calls', 'WeChat calls', `${plural(Number(x.apply_attempts || 0), 'apply', 'applies')} · ${plural(Number(x.queries || 0), 'query', 'queries')}${Number(x.failures) > 0 ? ` · ${x.failures} without an answer in a row` : ''}`);
    f('created_at', 'Requested', x.created_at ? timeNode(x.created_at) : '');
    if (x.accepted_at) f('accepted_at', 'Accepted by WeChat', timeNode(x.accepted_at));
    if (x.succeeded_at) f('succeeded_at', 'Refunded (at WeChat)', timeNode(x.succeeded_at));
    f('updated_at', 'Updated', x.updated_at ? timeNode(x.updated_at) : '');
    if (st === 'ABNORMAL' || resolved || x.resolved_note) {
      f('resolved_at', 'Resolved', resolved ? timeNode(x.resolved_at) : 'no — needs a person', { tone: resolved ? '' : 'bad' });
      if (resolved || x.resolved_note) {
        f('resolved_note', 'Resolution note', x.resolved_note ? el('span', { className: 'note-text', text: String(x.resolved_note) }) : '');
      }
    }

    const final = REFUND_FINAL.has(st);
    const verify = el('button', {
      className: 'btn btn-small', text: 'Verify now', attrs: { type: 'button' },
      dataset: { testid: 'refund-verify', refundAction: 'verify' },
      title: final ? 'final at WeChat Pay: nothing to ask' : 'query WeChat Pay for this refund now',
      on: { click: () => refundVerify(no) },
    });
    verify.disabled = final || app.busy;
    const n = eventCounts.get(no) || 0;
    const toggle = el('button', {
      className: `btn btn-small btn-quiet${filtered ? ' btn-pressed' : ''}`,
      text: filtered ? 'Show all events' : `Its timeline (${plural(n, 'event')})`,
      attrs: { type: 'button', 'aria-pressed': filtered ? 'true' : 'false', 'aria-controls': 'timeline' },
      dataset: { testid: 'refund-timeline' },
      on: { click: () => setTimelineRefund(filtered ? '' : no, { scroll: !filtered }) },
    });
    const actions = el('div', { className: 'refund-actions' }, verify,
      el('span', { className: 'muted small', text: final ? 'final' : 'query WeChat now' }),
      needs ? el('button', {
        className: 'btn btn-small btn-primary', text: 'Resolve…', attrs: { type: 'button' },
        dataset: { testid: 'refund-resolve', refundAction: 'resolve' },
        title: 'mark it handled by a person, with a note',
        on: { click: () => pickRefundToResolve(no, { focus: true }) },
      }) : null,
      toggle);
    for (const b of actions.querySelectorAll('button')) if (app.busy) b.disabled = true;

    return el('article', {
      className: `refund-card refund-card-${st.toLowerCase()}${needs ? ' refund-card-needs' : ''}${filtered ? ' refund-card-selected' : ''}`,
      dataset: { testid: 'refund', refund: no, state: st, resolved: resolved ? 'true' : 'false', needsAPerson: needs ? 'true' : 'false' },
      attrs: { 'aria-label': `Refund ${no}, ${st}` },
    }, head, hintNode, dl, actions);
  }

  function renderRefunds(refunds, r) {
    // A paycoord older than refunds answers no `refunds`: nothing to show.
    show($('refunds-panel'), Array.isArray(app.detail.data && app.detail.data.refunds));
    const events = Array.isArray(app.detail.data && app.detail.data.events) ? app.detail.data.events : [];
    const eventCounts = new Map();
    for (const ev of events) {
      const no = refundOf(ev);
      if (no) eventCounts.set(no, (eventCounts.get(no) || 0) + 1);
    }
    $('refunds-count').textContent = refunds.length ? `(${refunds.length})` : '';
    const sum = (states) => refunds.filter((x) => states.includes(x.state)).reduce((t, x) => t + Number(object(x.amount)?.refund || 0), 0);
    const refunded = sum(['SUCCESS']);
    const open = sum(['REQUESTED', 'PROCESSING', 'ABNORMAL']);
    $('refunds-sum').textContent = refunds.length
      ? `${money(refunded, r.currency)} refunded${open ? ` · ${money(open, r.currency)} under way or ABNORMAL` : ''} · of ${money(r.amount_total, r.currency)} paid`
      : '';
    const cards = $('refund-cards');
    cards.replaceChildren();
    if (refunds.length === 0) {
      const paid = r.state === 'PAID' || r.state === 'CONFIRMED';
      cards.append(el('p', { className: 'empty', dataset: { testid: 'refunds-none' },
        text: paid ? 'No refunds. The merchant asks for one with POST /v1/orders/{id}/refunds.' : 'No refunds (only a PAID or CONFIRMED order is refunded).' }));
    }
    for (const x of refunds) cards.append(refundCard(x, eventCounts));
    renderRefundPerson(refunds);
  }

  /// The refund resolve form: for the chosen unresolved ABNORMAL refund (the
  /// first by default). While a note is being typed its refund stays chosen,
  /// even if someone else resolves it meanwhile (the API then answers 409).
  function renderRefundPerson(refunds) {
    const candidates = refunds.filter(refundNeedsPerson).map((x) => String(x.out_refund_no ?? ''));
    const typing = $('refund-resolve-note').value.trim() !== '';
    let target = app.detail.resolveRefund;
    if (!candidates.includes(target) && !(typing && target)) target = candidates[0] || '';
    app.detail.resolveRefund = target;
    const error = !$('refund-resolve-error').hidden;
    show($('refund-person'), Boolean(target) || error);
    show($('refund-resolve-form'), Boolean(target));
    $('refund-resolve-target').textContent = target;
    $('refund-resolve-title').firstChild.textContent = target ? 'Needs a person: refund ' : 'Refund ';
    const pick = $('refund-resolve-pick');
    const options = [...candidates];
    if (target && !options.includes(target)) options.push(target);
    const signature = JSON.stringify(options);
    if (pick.dataset.signature !== signature) {
      pick.dataset.signature = signature;
      pick.replaceChildren(...options.map((no) => el('option', { text: no, attrs: { value: no } })));
    }
    pick.value = target;
    show($('refund-resolve-pick-row'), options.length > 1);
    updateNoteControls(REFUND_NOTE);
  }

  function pickRefundToResolve(no, { focus = false } = {}) {
    app.detail.resolveRefund = no;
    renderRefundPerson(refundsOf(app.detail.data));
    if (focus) {
      $('refund-person').scrollIntoView({ block: 'nearest' });
      $('refund-resolve-note').focus();
    }
  }

  /// Shows only the events of refund `no` ('' = every event), and keeps it in the address.
  function setTimelineRefund(no, { scroll = false } = {}) {
    if (!app.detail.id) return;
    app.detail.timelineRefund = no;
    const hash = refundHash(app.detail.id, no);
    if (location.hash !== hash) history.replaceState(null, '', hash);
    if (app.detail.data) renderDetail();
    if (scroll) $('timeline-title').scrollIntoView({ block: 'start' });
  }

  // -- timeline ----------------------------------------------------------------

  const QUERY_DURING = {
    verify: 'scheduled verify',
    expire_query: 'final query at expiry',
    close_confirm: 'confirming the close',
    close: 'operator / while closing',
    forward: 'operator',
    none: 'operator',
  };

  function refundTone(status) {
    return status === 'SUCCESS' ? 'good' : status === 'ABNORMAL' ? 'bad' : 'info';
  }

  function httpStatus(status) {
    const n = Number(status);
    return Number.isFinite(n) && n > 0 ? `HTTP ${n}` : 'no answer';
  }

  function pairs(obj) {
    if (obj === null || obj === undefined) return '';
    if (typeof obj !== 'object') return String(obj);
    return Object.entries(obj).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' · ');
  }

  /// { tone, title, lines: [string], extra?: string } for one event.
  function describeEvent(ev) {
    const kind = String(ev.kind ?? '');
    const d = ev.detail && typeof ev.detail === 'object' && !Array.isArray(ev.detail) ? ev.detail : null;
    const raw = d ? null : ev.detail;
    const g = (k) => (d && d[k] !== undefined && d[k] !== null ? d[k] : undefined);
    switch (d ? kind : '') {
      case 'created':
        return { tone: 'info', title: 'Order created', lines: [`${money(g('amount_total'), g('currency'))}${g('expire_at_ms') ? ` · expires ${wallTime(msToIso(g('expire_at_ms')))}` : ''}`] };
      case 'prepay':
        return g('ok')
          ? { tone: 'info', title: 'Placed at WeChat Pay (prepay)', lines: [`prepay_id ${g('prepay_id') ?? '?'}`] }
          : { tone: 'bad', title: 'Prepay at WeChat Pay failed', lines: [[httpStatus(g('status')), g('error')].filter(Boolean).join(' · ')] };
      case 'notify':
        return { tone: 'good', title: 'Payment notification received from WeChat Pay',
          lines: [[g('transaction_id') ? `transaction ${g('transaction_id')}` : null, g('total') !== undefined ? money(g('total')) : null, g('id') ? `notification ${g('id')}` : null].filter(Boolean).join(' · ')],
          extra: g('resource') };
      case 'notify_event':
        return { tone: 'info', title: `WeChat Pay notification: ${g('event_type') ?? 'event'}`,
          lines: [[g('trade_state') ? `trade_state ${g('trade_state')}` : null, g('id') ? `notification ${g('id')}` : null].filter(Boolean).join(' · ')],
          extra: g('resource') };
      case 'payment_parked':
        return { tone: 'bad', title: 'Payment reported while parked (not applied)',
          lines: [[g('source') ? `via ${g('source')}` : null, g('transaction_id') ? `transaction ${g('transaction_id')}` : null, g('total') !== undefined ? money(g('total')) : null].filter(Boolean).join(' · ')] };
      case 'query': {
        const during = QUERY_DURING[g('during')] || String(g('during') ?? '');
        const ts = g('trade_state');
        const head = [during, httpStatus(g('status'))];
        if (ts) {
          return { tone: ts === 'SUCCESS' ? 'good' : ts === 'REFUND' ? 'bad' : 'info', title: `WeChat query: ${ts}`,
            lines: [[...head, g('transaction_id') ? `transaction ${g('transaction_id')}` : null].filter(Boolean).join(' · ')] };
        }
        return { tone: 'bad', title: g('retry') ? 'WeChat query failed — will retry' : 'WeChat query failed',
          lines: [[...head, g('error')].filter(Boolean).join(' · ')] };
      }
      case 'close':
        return g('ok')
          ? { tone: 'info', title: 'Closed at WeChat Pay', lines: [httpStatus(g('status'))] }
          : { tone: 'bad', title: 'Close at WeChat Pay failed', lines: [[httpStatus(g('status')), g('error')].filter(Boolean).join(' · ')] };
      case 'forward': {
        const parts = [g('attempt') !== undefined ? `attempt ${g('attempt')}` : null, httpStatus(g('status')),
          g('latency_ms') !== undefined ? `${g('latency_ms')} ms` : null];
        if (!g('acked') && g('error') && g('error') !== httpStatus(g('status'))) parts.push(g('error'));
        return g('acked')
          ? { tone: 'good', title: 'Delivered to the business server — acknowledged', lines: [parts.filter(Boolean).join(' · ')] }
          : { tone: 'bad', title: 'Delivery to the business server failed', lines: [parts.filter(Boolean).join(' · ')] };
      }
      case 'state': {
        const to = String(g('to') ?? '?');
        return { tone: to === 'CONFIRMED' ? 'good' : PARKED.has(to) ? 'bad' : 'state', title: `State ${g('from') ?? '?'} → ${to}`, lines: [g('why') ? String(g('why')) : ''] };
      }
      case 'stuck':
        return { tone: 'bad', title: 'Flagged STUCK', lines: [g('failing_since_ms') ? `deliveries failing since ${wallTime(msToIso(g('failing_since_ms')))}` : ''] };
      case 'refund_requested':
        return { tone: 'info', title: `Refund requested by the merchant: ${money(g('refund'))} of ${money(g('total'))}`, lines: [] };
      case 'refund_apply':
      case 'refund_query': {
        const apply = kind === 'refund_apply';
        const head = [apply && g('attempt') !== undefined ? `attempt ${g('attempt')}` : null, httpStatus(g('status'))];
        if (g('outcome') === 'refund') {
          const rs = String(g('refund_status') ?? '?');
          return { tone: refundTone(rs), title: apply ? `Refund accepted by WeChat Pay: ${rs}` : `WeChat refund query: ${rs}`,
            lines: [[...head, g('refund_id') ? `refund_id ${g('refund_id')}` : null].filter(Boolean).join(' · ')] };
        }
        const what = {
          refused: apply ? 'refused by WeChat Pay' : 'refused',
          not_found: apply ? 'refused by WeChat Pay (not found)' : 'WeChat has no such refund',
          retry_later: 'failed — will retry',
          failed: 'failed — will retry slowly',
        }[g('outcome')] || 'failed';
        return { tone: 'bad', title: `${apply ? 'Refund apply at WeChat Pay' : 'WeChat refund query'} ${what}`,
          lines: [[...head, g('code'), g('error')].filter(Boolean).join(' · ')] };
      }
      case 'refund_notify': {
        const rs = String(g('refund_status') ?? '?');
        return { tone: refundTone(rs), title: `Refund notification from WeChat Pay: ${rs}`, lines: [g('id') ? `notification ${g('id')}` : ''] };
      }
      case 'refund_state': {
        const to = String(g('to') ?? '?');
        const source = { apply: 'WeChat answered the apply', query: 'a refund query', notify: 'a notification from WeChat Pay', 'apply refused': 'WeChat refused the apply' }[g('source')];
        return { tone: to === 'SUCCESS' ? 'good' : to === 'ABNORMAL' ? 'bad' : 'state', title: `Refund ${g('from') ?? '?'} → ${to}`,
          lines: [source ? `via ${source}` : g('source') ? `via ${g('source')}` : ''] };
      }
      case 'refund_forward': {
        const event = String(g('event') ?? 'refund event');
        const parts = [g('attempt') !== undefined ? `attempt ${g('attempt')}` : null, httpStatus(g('status')),
          g('latency_ms') !== undefined ? `${g('latency_ms')} ms` : null];
        if (!g('acked') && g('error') && g('error') !== httpStatus(g('status'))) parts.push(g('error'));
        return g('acked')
          ? { tone: 'good', title: `${event} delivered to the business server — acknowledged`, lines: [parts.filter(Boolean).join(' · ')] }
          : { tone: 'bad', title: `Delivery of ${event} to the business server failed`, lines: [parts.filter(Boolean).join(' · ')] };
      }
      case 'refund_orphan':
        return { tone: 'bad', title: 'Refund notification for a refund paycoord never asked for (made at WeChat directly?)',
          lines: [[g('event_type'), g('id') ? `notification ${g('id')}` : null].filter(Boolean).join(' · ')], extra: g('resource') };
      case 'refund_contradiction':
        return { tone: 'bad', title: `WeChat Pay contradicts a final refund: ${g('state') ?? '?'} here, WeChat says ${g('wechat_says') ?? '?'}`,
          lines: [[g('source') ? `via ${g('source')}` : null, `paycoord keeps ${g('state') ?? 'it'}: a person should look`].filter(Boolean).join(' · ')] };
      case 'refund_parked':
        return { tone: 'bad', title: 'Refund notification while the order is FAULTED (not applied; the refund query finds it after a retry)',
          lines: [[g('event_type'), g('id') ? `notification ${g('id')}` : null].filter(Boolean).join(' · ')] };
      case 'operator': {
        const action = String(g('action') ?? '?');
        const rest = pairs(Object.fromEntries(Object.entries(d).filter(([k]) => k !== 'action' && k !== 'note' && k !== 'out_refund_no')));
        if (g('out_refund_no') !== undefined) {
          const title = { verify: 'verify refund now', resolve: 'refund resolved — handled by a person' }[action] || `${action} (refund)`;
          return { tone: 'operator', title: `Operator: ${title}`, lines: [rest], note: g('note') };
        }
        if (action === 'resolve') {
          return { tone: 'operator', title: 'Operator: resolved — handled by a person', lines: [rest], note: g('note') };
        }
        const title = { verify: 'verify now', forward: 'forward now', retry: 'retry (out of FAULTED)' }[action] || action;
        return { tone: 'operator', title: `Operator: ${title}`, lines: [rest], note: g('note') };
      }
      default:
        return { tone: 'info', title: kind || 'event', lines: [d ? pairs(d) : raw === undefined || raw === null ? '' : String(raw)] };
    }
  }

  /// The timeline's "show the events of" choice: every event, or one refund's.
  function renderTimelineFilter(refunds, only) {
    const select = $('timeline-filter');
    const options = [['', 'All events']];
    for (const x of refunds) {
      const no = String(x.out_refund_no ?? '');
      options.push([no, `Refund ${no} (${String(x.state ?? '?')})`]);
    }
    if (only && !options.some(([v]) => v === only)) options.push([only, `Refund ${only} (not on this order)`]);
    const signature = JSON.stringify(options);
    if (select.dataset.signature !== signature) {
      select.dataset.signature = signature;
      select.replaceChildren(...options.map(([value, text]) => el('option', { text, attrs: { value } })));
    }
    select.value = only;
    show(select, options.length > 1);
    const note = $('timeline-filtered');
    show(note, Boolean(only));
    note.replaceChildren();
    if (only) {
      note.append(`Only the events of refund `, el('span', { className: 'mono', text: only }), '. ',
        el('button', { className: 'btn btn-quiet btn-small', text: 'Show all events', attrs: { type: 'button' }, dataset: { testid: 'timeline-show-all' },
          on: { click: () => setTimelineRefund('') } }));
    }
  }

  function renderTimeline(events, data) {
    const list = $('timeline');
    list.replaceChildren();
    const all = [...events].filter((e) => e && typeof e === 'object').sort((x, y) => Number(x.seq) - Number(y.seq));
    const only = app.detail.timelineRefund;
    renderTimelineFilter(refundsOf(data), only);
    const ordered = only ? all.filter((e) => refundOf(e) === only) : all;
    if (app.newestFirst) ordered.reverse();
    const total = data && Number.isFinite(Number(data.events_total)) ? Number(data.events_total) : all.length;
    $('timeline-count').textContent = only
      ? `(${plural(ordered.length, 'event')} of refund ${only}, of ${total})`
      : total > all.length
        ? `(newest ${all.length} of ${total} events)`
        : `(${plural(all.length, 'event')})`;
    $('timeline-order').textContent = app.newestFirst ? 'Newest first ↓ (show oldest first)' : 'Oldest first ↓ (show newest first)';
    let lastDate = null;
    for (const ev of ordered) {
      const info = describeEvent(ev);
      const p = splitTime(ev.at);
      const showDate = p && p.date !== lastDate;
      lastDate = p ? p.date : lastDate;
      const d = ev.detail && typeof ev.detail === 'object' ? ev.detail : {};
      const dataset = { testid: 'event', kind: String(ev.kind ?? ''), seq: String(ev.seq ?? '') };
      if (ev.kind === 'forward' || ev.kind === 'query' || ev.kind === 'prepay' || ev.kind === 'close') {
        if (Number.isFinite(Number(d.status))) dataset.status = String(Number(d.status));
      }
      if (ev.kind === 'forward') dataset.acked = d.acked ? 'true' : 'false';
      if (ev.kind === 'operator' && d.action !== undefined) dataset.action = String(d.action);
      const refundNo = refundOf(ev);
      if (refundNo) dataset.refund = refundNo;
      if (ev.kind === 'refund_apply' || ev.kind === 'refund_query' || ev.kind === 'refund_forward') {
        if (Number.isFinite(Number(d.status))) dataset.status = String(Number(d.status));
      }
      if (ev.kind === 'refund_forward') dataset.acked = d.acked ? 'true' : 'false';
      if (ev.kind === 'refund_state' && d.to !== undefined) dataset.to = String(d.to);
      // A refund's events name it: a button that shows that refund's events alone.
      const refundChip = refundNo ? el('button', {
        className: `ev-refund mono${only === refundNo ? ' ev-refund-on' : ''}`, text: refundNo,
        title: only === refundNo ? 'Show every event' : `Show only the events of refund ${refundNo}`,
        attrs: { type: 'button', 'aria-pressed': only === refundNo ? 'true' : 'false' },
        dataset: { testid: 'event-refund' },
        on: { click: () => setTimelineRefund(only === refundNo ? '' : refundNo) },
      }) : null;
      const when = el('div', { className: 'ev-when', title: String(ev.at ?? '') },
        el('time', { className: 'ev-time mono', text: p ? p.time : String(ev.at ?? '?'), attrs: { datetime: String(ev.at ?? '') } }),
        showDate ? el('span', { className: 'ev-date muted', text: p.date }) : null);
      const what = el('div', { className: 'ev-what' },
        el('div', { className: 'ev-title' }, el('span', { className: `ev-kind ev-kind-${info.tone}`, text: String(ev.kind ?? '?') }), ' ',
          refundChip, refundChip ? ' ' : null, el('span', { text: info.title })),
        ...info.lines.filter((l) => l).map((l) => el('div', { className: 'ev-line', text: l })),
        info.note !== undefined && info.note !== null && info.note !== ''
          ? el('blockquote', { className: 'ev-note note-text', text: String(info.note), dataset: { testid: 'event-note' } }) : null);
      if (info.extra !== undefined && info.extra !== null && info.extra !== '') {
        const text = typeof info.extra === 'string' ? info.extra : JSON.stringify(info.extra);
        what.append(el('details', { className: 'ev-extra' }, el('summary', { text: 'resource (decrypted)' }), el('pre', { className: 'mono', text: text.slice(0, 4000) })));
      }
      list.append(el('li', { className: `ev ev-${info.tone}`, dataset }, when, what));
    }
    if (ordered.length === 0) {
      list.append(el('li', { className: 'empty', text: only ? `No events of refund ${only} among the ${plural(all.length, 'event')} shown.` : 'No events recorded.' }));
    }
    // The API answers the newest events of an order and says when older ones were left out.
    if (data && data.events_truncated === true) {
      const note = el('li', { className: 'notice', dataset: { testid: 'timeline-truncated' },
        text: `Only the newest ${all.length} of ${total} events are shown; the older ones are kept in paycoord's store.` });
      if (app.newestFirst) list.prepend(note);
      else list.append(note);
    }
  }

  // -- operator actions --------------------------------------------------------

  async function operatorAction(action) {
    const id = app.detail.id;
    if (!id || app.busy) return;
    const label = action === 'verify' ? 'Verify now' : 'Forward now';
    const out = $('action-result');
    setBusy(true);
    out.className = 'action-result';
    out.dataset.outcome = 'pending';
    out.textContent = `${label}: sending…`;
    show(out, true);
    try {
      const { status, body } = await api('POST', `orders/${encodeURIComponent(id)}/${action}`);
      out.className = 'action-result action-ok';
      out.dataset.outcome = 'accepted';
      const st = body && body.state ? ` (state ${body.state} when accepted)` : '';
      out.textContent = `${label}: accepted by paycoord, ${status}${st}. ${action === 'verify' ? 'The WeChat query result' : 'The delivery result'} appears on the timeline below.`;
    } catch (e) {
      if (e.status === 401) return;
      out.className = 'action-result action-bad';
      out.dataset.outcome = 'refused';
      out.textContent = `${label}: refused — ${e.describe()}`;
    } finally {
      const sentAt = new Date().toISOString();
      out.append(' ', el('span', { className: 'rel muted', text: relative(sentAt), dataset: { relTime: sentAt } }));
      setBusy(false);
      followUp(id);
    }
  }

  /// While one action is under way every action control is disabled;
  /// renderDetail() sets them right again afterwards.
  function setBusy(busy) {
    app.busy = busy;
    if (!busy) return;
    for (const id of ['verify-now', 'forward-now', 'retry-now', 'resolve-submit', 'refund-resolve-submit']) $(id).disabled = true;
    for (const b of document.querySelectorAll('#refund-cards button[data-refund-action]')) b.disabled = true;
  }

  /// After an action: re-render the buttons whatever comes back, and look again
  /// soon (a 202's result and a retried order's next steps arrive later).
  function followUp(id) {
    if (!app.signedIn || app.detail.id !== id) return;
    app.detail.json = '';
    if (app.detail.data) renderDetail();
    refreshDetail();
    for (const t of app.followUps) clearTimeout(t);
    app.followUps = FOLLOW_UP_MS.map((ms) => setTimeout(() => {
      if (app.detail.id === id) refreshDetail();
    }, ms));
  }

  // -- a person's way out of a parked order (CONTRACTS.md §11) ------------------

  /// Retry (FAULTED) and the resolve form (unresolved ANOMALY, ORPHAN, FAULTED).
  /// The form is static markup shown or hidden, so a note being typed survives
  /// the refreshes. An error from the last attempt stays next to its control
  /// even when the order has moved on meanwhile (someone else acted first).
  function renderPersonActions(r) {
    const state = String(r.state ?? '');
    const parked = PARKED.has(state);
    const canRetry = state === 'FAULTED';
    const canResolve = parked && !r.resolved_at;
    const retryError = !$('retry-error').hidden;
    const resolveError = !$('resolve-error').hidden;
    show($('person-actions'), canRetry || canResolve || retryError || resolveError);
    show($('retry-block'), canRetry || retryError);
    show($('resolve-form'), canResolve);
    $('person-title').textContent = canResolve ? 'Needs a person' : 'Operator';
    $('retry-now').disabled = !canRetry || app.busy;
    $('retry-why').textContent = canRetry
      ? `back to ${r.faulted_from ? String(r.faulted_from) : 'the state it had before'}, with a fresh restart budget and its timer re-armed`
      : 'only for FAULTED orders';
    updateResolveControls();
  }

  // The two resolve forms (an order's, a refund's): the same controls, the same rules.
  const ORDER_NOTE = { note: 'resolve-note', count: 'resolve-count', why: 'resolve-why', submit: 'resolve-submit' };
  const REFUND_NOTE = { note: 'refund-resolve-note', count: 'refund-resolve-count', why: 'refund-resolve-why', submit: 'refund-resolve-submit' };

  /// The note as it will be sent (trimmed) and whether it may be.
  function noteOf(ids) {
    const note = $(ids.note).value.trim();
    const length = [...note].length;
    return { note, length, ok: length >= 1 && length <= NOTE_MAX };
  }

  function updateNoteControls(ids) {
    const { length, ok } = noteOf(ids);
    const count = $(ids.count);
    const over = length > NOTE_MAX;
    count.textContent = over
      ? `${length} / ${NOTE_MAX} characters — ${length - NOTE_MAX} too many`
      : `${length} / ${NOTE_MAX} characters`;
    count.className = `resolve-count small${over ? ' resolve-count-bad' : ''}`;
    count.dataset.count = String(length);
    $(ids.why).textContent = length === 0 ? 'write what was done first' : over ? 'shorten the note' : '';
    $(ids.submit).disabled = !ok || app.busy;
  }

  const resolveNote = () => noteOf(ORDER_NOTE);
  const updateResolveControls = () => updateNoteControls(ORDER_NOTE);

  function clearPersonErrors() {
    for (const id of ['retry-error', 'resolve-error', 'refund-resolve-error']) {
      $(id).textContent = '';
      show($(id), false);
    }
  }

  /// POSTs retry or resolve. Both answer 200 with the record: it is shown at
  /// once, then the order is read again for its new timeline events.
  async function personAction(action, payload) {
    const id = app.detail.id;
    if (!id || app.busy) return;
    const label = action === 'retry' ? 'Retry' : 'Resolve';
    const errorNode = $(`${action}-error`);
    const out = $('action-result');
    clearPersonErrors();
    show(out, false);
    delete out.dataset.outcome;
    setBusy(true);
    try {
      const { status, body } = await api('POST', `orders/${encodeURIComponent(id)}/${action}`, { body: payload });
      if (app.detail.id !== id) return;
      const rec = body && typeof body === 'object' && !Array.isArray(body) ? body : null;
      const now = rec && rec.state ? String(rec.state) : '?';
      out.className = 'action-result action-ok';
      out.dataset.outcome = action === 'retry' ? 'retried' : 'resolved';
      out.textContent = action === 'retry'
        ? `Retry: done (${status}). The order is back in ${now} and its timer is re-armed; what it does next appears on the timeline below.`
        : `Resolve: done (${status}). The order stays ${now}; it no longer counts as needing a person.`;
      show(out, true);
      if (action === 'resolve') $('resolve-note').value = '';
      if (rec && app.detail.data) app.detail.data = { ...app.detail.data, record: rec };
      refreshSummary(); // the needs-a-person count
    } catch (e) {
      if (e.status === 401 || app.detail.id !== id) return;
      const why = e.status === 409 ? ' The order is read again below: someone may have acted on it first.'
        : e.status === 400 ? ' Check the note.' : '';
      errorNode.textContent = `${label} refused — ${e.describe().replace(/[.\s]+$/, '')}.${why}`;
      show(errorNode, true);
    } finally {
      setBusy(false);
      followUp(id);
    }
  }

  function submitResolve(event) {
    event.preventDefault();
    const { note, ok } = resolveNote();
    updateResolveControls();
    if (!ok) return;
    personAction('resolve', { note });
  }

  // -- refund actions (CONTRACTS.md §10 "Admin", §11) -----------------------------

  /// "Verify now" on one refund: paycoord queries WeChat for it (202); the
  /// query's result arrives on the refund's timeline.
  async function refundVerify(no) {
    const id = app.detail.id;
    if (!id || !no || app.busy) return;
    const out = $('refund-action-result');
    const label = `Verify refund ${no}`;
    setBusy(true);
    out.className = 'action-result';
    out.dataset.outcome = 'pending';
    out.dataset.refund = no;
    out.textContent = `${label}: sending…`;
    show(out, true);
    try {
      const { status, body } = await api('POST', `orders/${encodeURIComponent(id)}/refunds/${encodeURIComponent(no)}/verify`);
      if (app.detail.id !== id) return;
      const x = object(body);
      out.className = 'action-result action-ok';
      out.dataset.outcome = 'accepted';
      out.textContent = `${label}: accepted by paycoord, ${status}${x && x.state ? ` (state ${x.state} when accepted)` : ''}. The WeChat refund query's result appears on its timeline below.`;
    } catch (e) {
      if (e.status === 401 || app.detail.id !== id) return;
      out.className = 'action-result action-bad';
      out.dataset.outcome = 'refused';
      out.textContent = `${label}: refused — ${e.describe()}`;
    } finally {
      if (app.detail.id === id) {
        const sentAt = new Date().toISOString();
        out.append(' ', el('span', { className: 'rel muted', text: relative(sentAt), dataset: { relTime: sentAt } }));
      }
      setBusy(false);
      followUp(id);
    }
  }

  /// Resolve an ABNORMAL refund with a note: 200 with the refund, shown at
  /// once; then the order is read again for the operator event.
  async function submitRefundResolve(event) {
    event.preventDefault();
    const { note, ok } = noteOf(REFUND_NOTE);
    updateNoteControls(REFUND_NOTE);
    const id = app.detail.id;
    const no = app.detail.resolveRefund;
    if (!ok || !id || !no || app.busy) return;
    const out = $('refund-action-result');
    const errorNode = $('refund-resolve-error');
    clearPersonErrors();
    show(out, false);
    delete out.dataset.outcome;
    setBusy(true);
    try {
      const { status, body } = await api('POST', `orders/${encodeURIComponent(id)}/resolve?refund=${encodeURIComponent(no)}`, { body: { note } });
      if (app.detail.id !== id) return;
      const x = object(body);
      out.className = 'action-result action-ok';
      out.dataset.outcome = 'resolved';
      out.dataset.refund = no;
      out.textContent = `Resolve refund ${no}: done (${status}). It stays ${x && x.state ? String(x.state) : '?'}; it no longer counts as needing a person.`;
      show(out, true);
      $('refund-resolve-note').value = '';
      if (x && app.detail.data && Array.isArray(app.detail.data.refunds)) {
        const refunds = app.detail.data.refunds.map((y) => (object(y) && y.out_refund_no === x.out_refund_no ? x : y));
        app.detail.data = { ...app.detail.data, refunds };
      }
      refreshSummary(); // the needs-a-person count
    } catch (e) {
      if (e.status === 401 || app.detail.id !== id) return;
      const why = e.status === 409 ? ' The order is read again below: someone may have resolved it first, or WeChat moved it.'
        : e.status === 400 ? ' Check the note.' : '';
      errorNode.textContent = `Resolve refund ${no} refused — ${e.describe().replace(/[.\s]+$/, '')}.${why}`;
      show(errorNode, true);
    } finally {
      setBusy(false);
      followUp(id);
    }
  }

  // -- routing -----------------------------------------------------------------

  // #/orders?state=PAID  — the list;  #/refunds?state=ABNORMAL  — the refunds;
  // #/order/<out_trade_no>[?refund=<out_refund_no>]  — one order (the timeline
  // of one of its refunds). The id is URI-encoded, so its '?' is not one.
  function route() {
    if (!app.signedIn) return;
    const hash = location.hash || '#/orders';
    const m = /^#\/order\/([^?]+)(?:\?(.*))?$/.exec(hash);
    if (m) {
      let id;
      try {
        id = decodeURIComponent(m[1]);
      } catch {
        id = m[1];
      }
      openDetail(id, new URLSearchParams(m[2] || '').get('refund') || '');
      return;
    }
    const q = new URLSearchParams(hash.split('?')[1] || '');
    if (/^#\/refunds(\?|$)/.test(hash)) {
      const refundState = REFUND_STATES.includes(q.get('state')) ? q.get('state') : '';
      if (refundState !== app.refunds.state) app.refunds.cursors = [''];
      app.refunds.state = refundState;
      $('refund-state-filter').value = refundState;
      closeDetail();
      setView('refunds');
      app.refunds.json = '';
      app.refunds.loaded = false;
      if (app.summary) renderSummary(); // the active tile / needs-a-person link
      refreshRefunds();
      return;
    }
    const state = STATES.includes(q.get('state')) ? q.get('state') : '';
    const stuck = q.get('stuck') === 'true';
    const unresolved = q.get('unresolved') === 'true';
    // A page size other than the default can be asked for in the address: #/orders?limit=200
    const n = Number(q.get('limit'));
    const limit = Number.isInteger(n) && n >= 1 && n <= 500 ? n : PAGE_SIZE;
    const changed = state !== app.list.state || stuck !== app.list.stuck || unresolved !== app.list.unresolved || limit !== app.list.limit;
    app.list.state = state;
    app.list.stuck = stuck;
    app.list.unresolved = unresolved;
    app.list.limit = limit;
    $('state-filter').value = state;
    $('filter-stuck').checked = stuck;
    $('filter-unresolved').checked = unresolved;
    if (changed) app.list.cursors = [''];
    closeDetail();
    setView('orders');
    resetListCache();
    if (app.summary) renderSummary(); // the active tile / needs-a-person link
    refreshList();
  }

  function openDetail(id, timelineRefund = '') {
    const changed = app.detail.id !== id;
    app.detail.id = id;
    app.detail.timelineRefund = timelineRefund;
    if (changed) {
      app.detail.json = '';
      app.detail.data = null;
      app.detail.resolveRefund = '';
      show($('detail-body'), false);
      show($('detail-error'), false);
      for (const out of [$('action-result'), $('refund-action-result')]) {
        show(out, false);
        delete out.dataset.outcome;
      }
      $('resolve-note').value = '';
      $('refund-resolve-note').value = '';
      clearPersonErrors();
      show($('person-actions'), false);
      show($('refund-person'), false);
      for (const t of app.followUps) clearTimeout(t);
      app.followUps = [];
      $('detail-updated').textContent = 'loading…';
      window.scrollTo(0, 0);
    } else if (app.detail.data) {
      renderDetail(); // another refund's timeline
    }
    setView('detail');
    document.title = `${id} · paycoord inspector`;
    refreshDetail();
  }

  function closeDetail() {
    app.detail.id = null;
    app.detail.json = '';
    app.detail.data = null;
    app.detail.timelineRefund = '';
    document.title = 'paycoord inspector';
  }

  /// Shows one of the views ('orders', 'refunds', 'detail') and the toolbar
  /// controls that go with it.
  function setView(view) {
    app.view = view;
    if (view !== 'detail') app.lastList = view;
    show($('list-view'), view === 'orders');
    show($('refunds-view'), view === 'refunds');
    show($('detail-view'), view === 'detail');
    $('app').classList.toggle('app-detail', view === 'detail');
    const refundsList = app.lastList === 'refunds';
    show($('order-filter'), !refundsList);
    show($('order-flags'), !refundsList);
    show($('refund-filter'), refundsList);
    for (const [tab, on] of [[$('tab-orders'), !refundsList], [$('tab-refunds'), refundsList]]) {
      tab.classList.toggle('view-tab-active', on);
      if (on) tab.setAttribute('aria-current', 'page');
      else tab.removeAttribute('aria-current');
    }
    $('tab-orders').href = listHash(currentFilter());
    $('tab-refunds').href = refundsHash(app.refunds.state);
    $('back-to-list').textContent = refundsList ? '← Back to refunds' : '← Back to orders';
  }

  function backToList() {
    if (app.lastList === 'refunds') location.hash = refundsHash(app.refunds.state);
    else showList(currentFilter());
  }

  function renderFooter() {
    const zone = serverOffset === null ? '' : ` Times are paycoord's wall clock (UTC${serverOffset === 'Z' ? '' : serverOffset}).`;
    $('footer-note').textContent = `Reads the admin API of this paycoord; refreshes every ${REFRESH_MS / 1000} s.${zone} Amounts: ¥ yuan, stored as integer fen.`;
  }

  // -- wiring ------------------------------------------------------------------

  function init() {
    const filter = $('state-filter');
    for (const s of STATES) filter.append(el('option', { text: `${s} — ${STATE_HELP[s]}`, attrs: { value: s } }));
    for (const control of [filter, $('filter-stuck'), $('filter-unresolved')]) {
      control.addEventListener('change', () => showList(toolbarFilter()));
    }
    $('signin-form').addEventListener('submit', signIn);
    $('sign-out').addEventListener('click', signOut);
    $('search-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const id = $('search-input').value.trim();
      if (!id) return;
      location.hash = `#/order/${encodeURIComponent(id)}`;
      if (app.detail.id === id) refreshDetail();
    });
    const refundFilter = $('refund-state-filter');
    for (const st of REFUND_STATES) refundFilter.append(el('option', { text: `${st} — ${REFUND_HELP[st]}`, attrs: { value: st } }));
    refundFilter.addEventListener('change', () => { location.hash = refundsHash(refundFilter.value); });
    $('refunds-next-page').addEventListener('click', () => {
      if (app.refunds.next) turnRefundsPage([...app.refunds.cursors, app.refunds.next]);
    });
    $('refunds-prev-page').addEventListener('click', () => {
      if (app.refunds.cursors.length > 1) turnRefundsPage(app.refunds.cursors.slice(0, -1));
    });
    $('refunds-first-page').addEventListener('click', () => turnRefundsPage(['']));
    $('refund-resolve-form').addEventListener('submit', submitRefundResolve);
    $('refund-resolve-note').addEventListener('input', () => updateNoteControls(REFUND_NOTE));
    $('refund-resolve-pick').addEventListener('change', () => pickRefundToResolve($('refund-resolve-pick').value));
    $('timeline-filter').addEventListener('change', () => setTimelineRefund($('timeline-filter').value));
    $('next-page').addEventListener('click', nextPage);
    $('prev-page').addEventListener('click', prevPage);
    $('first-page').addEventListener('click', firstPage);
    $('back-to-list').addEventListener('click', backToList);
    $('verify-now').addEventListener('click', () => operatorAction('verify'));
    $('forward-now').addEventListener('click', () => operatorAction('forward'));
    $('retry-now').addEventListener('click', () => personAction('retry'));
    $('resolve-form').addEventListener('submit', submitResolve);
    $('resolve-note').addEventListener('input', updateResolveControls);
    for (const [note, form] of [['resolve-note', 'resolve-form'], ['refund-resolve-note', 'refund-resolve-form']]) {
      $(note).addEventListener('keydown', (ev) => {
        // Enter writes a new line; Ctrl+Enter (⌘+Enter) sends, as in most note fields.
        if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
          ev.preventDefault();
          $(form).requestSubmit();
        }
      });
    }
    try {
      app.newestFirst = sessionStorage.getItem(ORDER_KEY) !== 'false';
    } catch {
      app.newestFirst = true;
    }
    $('timeline-order').addEventListener('click', () => {
      app.newestFirst = !app.newestFirst;
      try {
        sessionStorage.setItem(ORDER_KEY, String(app.newestFirst));
      } catch {
        // not kept
      }
      if (app.detail.data) renderTimeline(Array.isArray(app.detail.data.events) ? app.detail.data.events : [], app.detail.data);
    });
    window.addEventListener('hashchange', route);
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) refreshAll();
    });
    setInterval(tickRelative, 1000);
    renderFooter();
    if (getToken()) start();
    else needToken('');
  }

  init();
})();
