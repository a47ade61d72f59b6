// paycoord inspector: the operator's page over the admin API (CONTRACTS.md §6,
// and §11: the way out of every parked state).
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

  function flagBadge(text, cls, title) {
    return el('span', { className: `badge ${cls}`, text, title, dataset: { testid: `flag-${text.toLowerCase()}` } });
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
    detail: { id: null, json: '', data: null, loading: false },
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
    const needTotal = needs ?? (unresolved ? Object.values(needBy).reduce((x, y) => x + y, 0) : Number(s.parked || 0));

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
    const plainState = (name) => app.list.state === name && !app.list.stuck && !app.list.unresolved;
    for (const tile of tiles.children) {
      const name = tile.dataset.state;
      const n = Number(counts[name] || 0);
      const attention = PARKED.has(name) && needBy[name] > 0;
      tile.className = `tile tile-${name.toLowerCase()}${attention ? ' tile-alert' : ''}${plainState(name) ? ' tile-active' : ''}`;
      tile.setAttribute('aria-label', `${n} ${name}${PARKED.has(name) && n > 0 ? ` (${needBy[name]} unresolved)` : ''}: show them`);
      tile.querySelector('.tile-count').textContent = n.toLocaleString('en-US');
    }

    // "Needs a person": a link to the unresolved orders, updated in place like the tiles.
    const needsLink = $('needs-person');
    const onlyUnresolved = app.list.unresolved && !app.list.state && !app.list.stuck;
    needsLink.href = listHash({ unresolved: true });
    needsLink.className = `needs-person${needs === null ? '' : needs > 0 ? ' needs-some' : ' needs-none'}${onlyUnresolved ? ' needs-active' : ''}`;
    needsLink.dataset.count = needs === null ? '' : String(needs);
    $('needs-person-value').textContent = needs === null ? '?' : needs.toLocaleString('en-US');
    $('needs-person-label').textContent = needs === 1 ? 'order needs a person' : 'orders need a person';
    const which = [...PARKED].filter((p) => needBy[p] > 0);
    $('needs-person-detail').textContent = needs === null
      ? 'this paycoord does not report it'
      : which.length ? `${which.map((p) => `${needBy[p]} ${p}`).join(' · ')} — show them` : 'every parked order has been resolved';
    needsLink.title = 'Parked orders (ANOMALY, ORPHAN, FAULTED) that no person has resolved yet';
    needsLink.setAttribute('aria-label', `${needs ?? '?'} ${$('needs-person-label').textContent}: show them`);

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
    const signature = JSON.stringify([s.ready, s.stuck, needTotal, s.unreadable_records, needBy]);
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
    // The record has no refund field: a refund shows only as a notification on the timeline.
    if (events.some((e) => e && e.kind === 'notify_event' && /^REFUND\./.test(String(e.detail && e.detail.event_type)))) {
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

    renderTimeline(events, data);
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
      case 'operator': {
        const action = String(g('action') ?? '?');
        const rest = pairs(Object.fromEntries(Object.entries(d).filter(([k]) => k !== 'action' && k !== 'note')));
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

  function renderTimeline(events, data) {
    const list = $('timeline');
    list.replaceChildren();
    const ordered = [...events].filter((e) => e && typeof e === 'object').sort((x, y) => Number(x.seq) - Number(y.seq));
    if (app.newestFirst) ordered.reverse();
    const total = data && Number.isFinite(Number(data.events_total)) ? Number(data.events_total) : ordered.length;
    $('timeline-count').textContent = total > ordered.length
      ? `(newest ${ordered.length} of ${total} events)`
      : `(${plural(ordered.length, 'event')})`;
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
      const when = el('div', { className: 'ev-when', title: String(ev.at ?? '') },
        el('time', { className: 'ev-time mono', text: p ? p.time : String(ev.at ?? '?'), attrs: { datetime: String(ev.at ?? '') } }),
        showDate ? el('span', { className: 'ev-date muted', text: p.date }) : null);
      const what = el('div', { className: 'ev-what' },
        el('div', { className: 'ev-title' }, el('span', { className: `ev-kind ev-kind-${info.tone}`, text: String(ev.kind ?? '?') }), ' ', el('span', { text: info.title })),
        ...info.lines.filter((l) => l).map((l) => el('div', { className: 'ev-line', text: l })),
        info.note !== undefined && info.note !== null && info.note !== ''
          ? el('blockquote', { className: 'ev-note note-text', text: String(info.note), dataset: { testid: 'event-note' } }) : null);
      if (info.extra !== undefined && info.extra !== null && info.extra !== '') {
        const text = typeof info.extra === 'string' ? info.extra : JSON.stringify(info.extra);
        what.append(el('details', { className: 'ev-extra' }, el('summary', { text: 'resource (decrypted)' }), el('pre', { className: 'mono', text: text.slice(0, 4000) })));
      }
      list.append(el('li', { className: `ev ev-${info.tone}`, dataset }, when, what));
    }
    if (ordered.length === 0) list.append(el('li', { className: 'empty', text: 'No events recorded.' }));
    // The API answers the newest events of an order and says when older ones were left out.
    if (data && data.events_truncated === true) {
      const note = el('li', { className: 'notice', dataset: { testid: 'timeline-truncated' },
        text: `Only the newest ${ordered.length} of ${total} events are shown; the older ones are kept in paycoord's store.` });
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
    for (const id of ['verify-now', 'forward-now', 'retry-now', 'resolve-submit']) $(id).disabled = true;
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

  /// The note as it will be sent (trimmed) and whether it may be.
  function resolveNote() {
    const note = $('resolve-note').value.trim();
    const length = [...note].length;
    return { note, length, ok: length >= 1 && length <= NOTE_MAX };
  }

  function updateResolveControls() {
    const { length, ok } = resolveNote();
    const count = $('resolve-count');
    const over = length > NOTE_MAX;
    count.textContent = over
      ? `${length} / ${NOTE_MAX} characters — ${length - NOTE_MAX} too many`
      : `${length} / ${NOTE_MAX} characters`;
    count.className = `resolve-count small${over ? ' resolve-count-bad' : ''}`;
    count.dataset.count = String(length);
    $('resolve-why').textContent = length === 0 ? 'write what was done first' : over ? 'shorten the note' : '';
    $('resolve-submit').disabled = !ok || app.busy;
  }

  function clearPersonErrors() {
    for (const id of ['retry-error', 'resolve-error']) {
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

  // -- routing -----------------------------------------------------------------

  // #/orders?state=PAID  — the list;  #/order/<out_trade_no>  — one order.
  function route() {
    if (!app.signedIn) return;
    const hash = location.hash || '#/orders';
    const m = /^#\/order\/(.+)$/.exec(hash);
    if (m) {
      let id;
      try {
        id = decodeURIComponent(m[1]);
      } catch {
        id = m[1];
      }
      openDetail(id);
      return;
    }
    const q = new URLSearchParams(hash.split('?')[1] || '');
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
    resetListCache();
    if (app.summary) renderSummary(); // the active tile / needs-a-person link
    refreshList();
  }

  function openDetail(id) {
    const changed = app.detail.id !== id;
    app.detail.id = id;
    if (changed) {
      app.detail.json = '';
      app.detail.data = null;
      show($('detail-body'), false);
      show($('detail-error'), false);
      show($('action-result'), false);
      delete $('action-result').dataset.outcome;
      $('resolve-note').value = '';
      clearPersonErrors();
      show($('person-actions'), false);
      for (const t of app.followUps) clearTimeout(t);
      app.followUps = [];
      $('detail-updated').textContent = 'loading…';
    }
    show($('list-view'), false);
    show($('detail-view'), true);
    $('app').classList.add('app-detail');
    document.title = `${id} · paycoord inspector`;
    window.scrollTo(0, 0);
    refreshDetail();
  }

  function closeDetail() {
    app.detail.id = null;
    app.detail.json = '';
    app.detail.data = null;
    show($('detail-view'), false);
    show($('list-view'), true);
    $('app').classList.remove('app-detail');
    document.title = 'paycoord inspector';
  }

  function backToList() {
    showList(currentFilter());
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
    $('next-page').addEventListener('click', nextPage);
    $('prev-page').addEventListener('click', prevPage);
    $('first-page').addEventListener('click', firstPage);
    $('back-to-list').addEventListener('click', backToList);
    $('verify-now').addEventListener('click', () => operatorAction('verify'));
    $('forward-now').addEventListener('click', () => operatorAction('forward'));
    $('retry-now').addEventListener('click', () => personAction('retry'));
    $('resolve-form').addEventListener('submit', submitResolve);
    $('resolve-note').addEventListener('input', updateResolveControls);
    $('resolve-note').addEventListener('keydown', (ev) => {
      // Enter writes a new line; Ctrl+Enter (⌘+Enter) sends, as in most note fields.
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        $('resolve-form').requestSubmit();
      }
    });
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
