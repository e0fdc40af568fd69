// The console's pages (docs/console.md). Each page is a shell served by `promoledger serve`; this script
// fills it from the JSON API (/v1/...) with the session cookie, so every figure shown is the API's.
// Amounts stay the API's decimal strings for display; they become JS numbers only to be plotted.
'use strict';

(function () {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  const page = document.body.dataset.page;
  const role = document.body.dataset.role;
  const charts = {};  // Chart.js instances by canvas id, replaced when a page redraws

  // ----------------------------------------------------------------------------------- helpers
  function $(id) { return document.getElementById(id); }

  // An element with text (never HTML: names come from outside) and attributes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function showError(message) {
    const box = $('error');
    box.textContent = message;
    box.classList.remove('d-none');
  }
  function clearError() { $('error').classList.add('d-none'); }
  function describe(res) {
    if (res.json && res.json.message) return res.json.message + ' (' + res.json.error + ', HTTP ' + res.status + ')';
    return 'HTTP ' + res.status;
  }

  // Calls the API with the session cookie; a change carries the session's CSRF token.
  async function api(method, path, body) {
    const options = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      options.headers['X-CSRF-Token'] = csrf;
      options.headers['Content-Type'] = 'application/json';
      options.body = body === undefined ? '' : JSON.stringify(body);
    }
    const r = await fetch(path, options);
    if (r.status === 401) {  // the session ended (expired, signed out elsewhere, token revoked)
      window.location.assign('/console/sign-in');
      throw new Error('signed out');
    }
    let json = null;
    try { json = JSON.parse(await r.text()); } catch (e) { json = null; }
    return { status: r.status, ok: r.ok, json };
  }

  // "1234567.80" -> "1,234,567.80": grouping done on the string, so no amount passes through a float.
  function cny(amount) {
    if (typeof amount !== 'string' || !/^-?\d+\.\d{2}$/.test(amount)) return String(amount);
    const negative = amount.startsWith('-');
    const [whole, cents] = (negative ? amount.slice(1) : amount).split('.');
    return (negative ? '-' : '') + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + cents;
  }
  // For a chart's axis only.
  function plotted(amount) { return Number(amount); }
  // Fen as an integer (BigInt) from a decimal string, for exact comparisons and bar widths.
  function fen(amount) {
    const negative = amount.startsWith('-');
    const [whole, cents] = (negative ? amount.slice(1) : amount).split('.');
    const value = BigInt(whole) * 100n + BigInt(cents || '0');
    return negative ? -value : value;
  }
  function percentOf(part, whole) {
    if (whole <= 0n) return 0;
    return Number((part * 10000n) / whole) / 100;
  }

  // "2026-11-24 03:15:00" (UTC, as the API gives it) -> "2026-11-24 11:15:00" in Asia/Shanghai.
  const shanghai = new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  });
  function localTime(utc) {
    if (!utc) return '';
    const d = new Date(utc.replace(' ', 'T').replace(/(\.\d{3})\d*$/, '$1') + 'Z');
    if (Number.isNaN(d.getTime())) return utc;
    const p = Object.fromEntries(shanghai.formatToParts(d).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  }
  function todayInShanghai() { return localTime(new Date().toISOString().replace('T', ' ').slice(0, 19)).slice(0, 10); }

  function chart(canvasId, config) {
    if (charts[canvasId]) charts[canvasId].destroy();
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    charts[canvasId] = new window.Chart($(canvasId), config);
    return charts[canvasId];
  }

  function statusBadge(status) {
    const colour = { draft: 'bg-secondary', approved: 'bg-info', active: 'bg-success', paused: 'bg-warning text-dark', ended: 'bg-dark' };
    return el('span', { class: 'badge ' + (colour[status] || 'bg-secondary'), text: status });
  }

  // Spent and reserved as parts of the budget, one bar.
  function budgetBar(c) {
    const total = fen(c.budget_total);
    const spent = percentOf(fen(c.budget_spent), total);
    const reserved = percentOf(fen(c.budget_reserved), total);
    const bar = el('div', { class: 'progress', title: `spent ${cny(c.budget_spent)}, reserved ${cny(c.budget_reserved)} of ${cny(c.budget_total)}` });
    const s = el('div', { class: 'progress-bar bg-danger', role: 'progressbar', 'aria-label': 'spent' });
    const r = el('div', { class: 'progress-bar bg-warning', role: 'progressbar', 'aria-label': 'reserved' });
    s.style.width = spent + '%';  // CSSOM, which the Content-Security-Policy allows (style attributes it does not)
    r.style.width = reserved + '%';
    bar.append(s, r);
    return bar;
  }

  function definitions(target, pairs) {
    target.replaceChildren();
    for (const [name, value, cls] of pairs) {
      target.append(el('dt', { class: 'col-sm-3', text: name }), el('dd', { class: 'col-sm-9 ' + (cls || ''), text: value === null || value === undefined ? '—' : String(value) }));
    }
  }

  // ------------------------------------------------------------------------------------- pages
  async function campaignsPage() {
    const res = await api('GET', '/v1/campaigns');
    if (!res.ok) return showError(describe(res));
    const body = $('campaigns').querySelector('tbody');
    body.replaceChildren();
    if (res.json.length === 0) $('no-campaigns').classList.remove('d-none');
    for (const c of res.json) {
      const row = el('tr', { 'data-campaign-id': c.id },
        el('td', { text: c.id }),
        el('td', {}, el('a', { href: '/console/campaign?id=' + encodeURIComponent(c.id), class: 'c-name', text: c.name })),
        el('td', { class: 'c-status' }, statusBadge(c.status)),
        el('td', { class: 'c-days', text: `${c.first_day} … ${c.last_day}` }),
        el('td', { class: 'text-end c-merchants', text: c.merchant_count }),
        el('td', { class: 'text-end c-budget', text: cny(c.budget_total) }),
        el('td', { class: 'text-end c-reserved', text: cny(c.budget_reserved) }),
        el('td', { class: 'text-end c-spent', text: cny(c.budget_spent) }),
        el('td', {}, budgetBar(c)));
      body.append(row);
    }
  }

  async function campaignPage() {
    const id = new URLSearchParams(window.location.search).get('id') || '';
    if (!/^[0-9]{1,18}$/.test(id)) return showError('Open a campaign from the list (no campaign id in the address).');
    const [shown, days, cards] = await Promise.all([
      api('GET', `/v1/campaigns/${id}`), api('GET', `/v1/campaigns/${id}/days`), api('GET', `/v1/campaigns/${id}/card-values`)]);
    if (!shown.ok) return showError(describe(shown));
    const c = shown.json;
    $('campaign-title').textContent = `Campaign ${c.id}: ${c.name}`;
    $('campaign-status').replaceWith(Object.assign(statusBadge(c.status), { id: 'campaign-status' }));
    $('campaign-days').textContent = `${c.first_day} … ${c.last_day}, ${c.merchant_count} merchants`;
    $('budget-total').textContent = cny(c.budget_total);
    $('budget-reserved').textContent = cny(c.budget_reserved);
    $('budget-spent').textContent = cny(c.budget_spent);
    $('budget-left').textContent = cny(c.budget_left);
    $('budget-bar').replaceChildren(budgetBar(c));

    const events = $('events').querySelector('tbody');
    events.replaceChildren();
    for (const e of c.events) {
      events.append(el('tr', {}, el('td', { class: 'e-at', text: localTime(e.at_utc) }), el('td', { class: 'e-actor', text: e.actor }),
        el('td', { class: 'e-action', text: e.action }), el('td', { text: `${e.from || '—'} → ${e.to}` }),
        el('td', { class: 'e-reason', text: e.reason || '' })));
    }
    const params = $('params').querySelector('tbody');
    params.replaceChildren();
    for (const [k, v] of Object.entries(c.params)) {
      if (k === 'comment') continue;
      const shownValue = Array.isArray(v) ? v.join(' ') : String(v);
      params.append(el('tr', { 'data-param': k }, el('th', { text: k }), el('td', { class: 'p-value', text: shownValue })));
    }

    if (role === 'operator') {
      $('actions').classList.remove('d-none');
      $('approve').disabled = c.status !== 'draft';
      $('pause').disabled = !['active', 'approved'].includes(c.status);
      $('resume').disabled = c.status !== 'paused';
      $('end').disabled = !['approved', 'active', 'paused'].includes(c.status);
    }

    if (days.ok) {
      const d = days.json;
      $('subsidy-total').textContent = cny(d.subsidy_total);
      $('days-budget').textContent = cny(d.budget_total);
      chart('days-chart', {
        data: {
          labels: d.days.map((x) => x.business_day),
          datasets: [
            { type: 'bar', label: 'discounts paid that day (CNY, left)', data: d.days.map((x) => plotted(x.subsidy)), backgroundColor: '#0d6efd', yAxisID: 'y' },
            { type: 'line', label: 'paid so far (CNY, right)', data: d.days.map((x) => plotted(x.cumulative_subsidy)), borderColor: '#dc3545', yAxisID: 'total' },
            { type: 'line', label: 'budget (CNY, right)', data: d.days.map(() => plotted(d.budget_total)), borderColor: '#6c757d', borderDash: [6, 4], pointRadius: 0, yAxisID: 'total' },
          ],
        },
        // A day's discounts are a small part of the budget: they get their own axis, so the bars stay
        // readable while the running total is drawn against the budget on the right.
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'per day (CNY)' } }, total: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'paid so far and budget (CNY)' } } } },
      });
    } else {
      showError(describe(days));
    }

    if (cards.ok) {
      const v = cards.json;
      const low = fen(v.band_low);
      const high = fen(v.band_high);
      $('cards-total').textContent = v.cards;
      $('cards-in-band').textContent = v.cards_in_band;
      $('band-low').textContent = v.band_low;
      $('band-high').textContent = v.band_high;
      $('band-share').textContent = v.band_share;
      $('band-promised').textContent = v.band_share_promised;
      // A bin is drawn as "in the band" when its lower edge is in [low, high): the figure below the chart
      // counts the cards exactly, edges included.
      const inBand = v.bins.map((b) => fen(b.from) >= low && fen(b.from) < high);
      chart('cards-chart', {
        type: 'bar',
        data: {
          labels: v.bins.map((b) => `${b.from}–${b.to}`),
          datasets: [{
            label: `cards dealt (band [${v.band_low}, ${v.band_high}] in green)`,
            data: v.bins.map((b) => b.cards),
            backgroundColor: inBand.map((x) => (x ? '#198754' : '#adb5bd')),
          }],
        },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'cards' } }, x: { title: { display: true, text: 'card value (CNY)' } } } },
      });
    } else {
      showError(describe(cards));
    }
  }

  async function steer(action) {
    const id = new URLSearchParams(window.location.search).get('id');
    const reason = $('reason').value.trim();
    const res = await api('POST', `/v1/campaigns/${id}/${action}`, action === 'approve' || reason === '' ? undefined : { reason });
    const out = $('action-result');
    if (res.ok) {
      clearError();
      out.textContent = `${action}: now ${res.json.status}`;
      await campaignPage();
    } else {
      out.textContent = '';
      showError(describe(res));
    }
  }

  function campaignActions() {
    for (const action of ['approve', 'pause', 'resume', 'end']) {
      $(action).addEventListener('click', () => { steer(action); });
    }
  }

  // The document the form describes, as `campaign create --file` would read it. Whole numbers are sent as
  // numbers only when they look like one; anything else goes as typed, for the service to name the error.
  function campaignDocument() {
    const doc = {};
    for (const input of document.querySelectorAll('#campaign-form [data-field]')) {
      const field = input.dataset.field;
      const value = input.value.trim();
      if (value === '' && input.dataset.optional) continue;
      if (field === 'merchants') doc.merchants = value.split(/[\s,]+/).filter((m) => m !== '');
      else if (input.dataset.int && /^-?[0-9]{1,9}$/.test(value)) doc[field] = Number(value);
      else doc[field] = value;
    }
    return doc;
  }

  function newCampaignPage() {
    $('campaign-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      for (const input of document.querySelectorAll('#campaign-form .is-invalid')) input.classList.remove('is-invalid');
      for (const box of document.querySelectorAll('#campaign-form .invalid-feedback')) box.textContent = '';
      const general = $('form-errors');
      general.classList.add('d-none');
      general.replaceChildren();
      const res = await api('POST', '/v1/campaigns', campaignDocument());
      if (res.ok) {
        window.location.assign('/console/campaign?id=' + encodeURIComponent(res.json.id));
        return;
      }
      const errors = (res.json && res.json.errors) || [{ field: '', message: describe(res) }];
      for (const e of errors) {
        const input = e.field ? document.querySelector(`#campaign-form [data-field="${e.field}"]`) : null;
        if (input) {
          input.classList.add('is-invalid');
          const box = $('err-' + e.field);
          box.textContent = box.classList.contains('has-text') ? box.textContent + ' ' + e.message : e.message;
          box.classList.add('has-text');
        } else {
          general.append(el('div', { text: e.message }));
          general.classList.remove('d-none');
        }
      }
      for (const box of document.querySelectorAll('#campaign-form .has-text')) box.classList.remove('has-text');
      if (res.json && res.json.message) {
        general.prepend(el('div', { class: 'fw-bold', text: res.json.message }));
        general.classList.remove('d-none');
      }
    });
  }

  async function outletsPage() {
    const query = new URLSearchParams(window.location.search);
    const today = todayInShanghai();
    const from = query.get('from') || today.slice(0, 8) + '01';
    const to = query.get('to') || today;
    $('from').value = from;
    $('to').value = to;
    const range = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    $('csv').href = `/v1/reports/outlets?${range}&format=csv`;
    $('xlsx').href = `/v1/reports/outlets?${range}&format=xlsx`;
    const [report, days] = await Promise.all([api('GET', `/v1/reports/outlets?${range}`), api('GET', `/v1/reports/outlets/daily?${range}`)]);
    if (!report.ok) return showError(describe(report));
    const body = $('outlets').querySelector('tbody');
    body.replaceChildren();
    for (const r of report.json.rows) {
      const unit = r.level === 'outlet' ? r.outlet : r.level === 'sub_branch' ? r.sub_branch : r.branch;
      const share = el('div', { class: 'progress' });
      const bar = el('div', { class: 'progress-bar bg-success', role: 'progressbar', 'aria-label': 'bank-app share' });
      bar.style.width = r.bank_app_share.replace('%', '') + '%';
      share.append(bar);
      body.append(el('tr', { class: 'level-' + r.level, 'data-level': r.level, 'data-unit': unit },
        el('td', { class: 'o-unit', text: unit }),
        el('td', { class: 'text-end o-payments', text: r.payments }),
        el('td', { class: 'text-end o-bank-app', text: r.bank_app }),
        el('td', { class: 'text-end o-share', text: r.bank_app_share }),
        el('td', {}, share),
        el('td', { class: 'text-end o-discounted', text: r.discounted }),
        el('td', { class: 'text-end o-subsidy', text: cny(r.subsidy) }),
        el('td', { class: 'text-end o-reversed', text: cny(r.reversed_subsidy) }),
        el('td', { class: 'text-end o-net', text: cny(r.net_subsidy) })));
    }
    if (!days.ok) return showError(describe(days));
    $('net-subsidy-total').textContent = cny(days.json.net_subsidy_total);
    chart('subsidy-chart', {
      type: 'bar',
      data: {
        labels: days.json.days.map((d) => d.business_day),
        datasets: [{ label: 'net subsidy (CNY)', data: days.json.days.map((d) => plotted(d.net_subsidy)), backgroundColor: '#0d6efd' }],
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'CNY' } } } },
    });
  }

  function outletsForm() {
    $('range-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const q = new URLSearchParams({ from: $('from').value.trim(), to: $('to').value.trim() });
      window.history.replaceState(null, '', '?' + q.toString());
      clearError();
      outletsPage();
    });
  }

  async function tracePage(id) {
    const res = await api('GET', '/v1/audit/trace/' + encodeURIComponent(id));
    if (!res.ok) {
      $('chain').classList.add('d-none');
      return showError(describe(res));
    }
    clearError();
    const t = res.json;
    const p = t.payment;
    definitions($('t-payment'), [['payment id', p.payment_id], ['payer', p.payer], ['merchant', p.merchant], ['home outlet', p.home_outlet],
      ['channel', p.channel], ['amount', cny(p.amount)], ['paid at (Asia/Shanghai)', p.paid_at_local], ['business day', p.business_day]]);
    const d = t.decision;
    definitions($('t-decision'), [['discounted', d.discounted ? 'yes' : 'no'], ['reason', d.reason], ['discount', d.discount ? cny(d.discount) : null],
      ['payer pays', cny(d.payer_pays)], ['merchant receives', cny(d.merchant_receives)]]);
    const card = t.card || null;
    definitions($('t-card'), card ? [['deck', card.deck_id], ['position', card.position], ['card amount', cny(card.amount)],
      ['seed commitment', card.seed_commitment, 'hash'], ['seed revealed', card.seed_revealed, 'hash'], ['algorithm', card.algorithm_version],
      ['deck order', card.deck_order], ['dealt at (Asia/Shanghai)', localTime(card.dealt_at_utc)], ['deck status', card.deck_status]]
      : [['card', 'none: no discount on this payment']]);
    const c = t.campaign || null;
    definitions($('t-campaign'), c ? [['campaign', `${c.id}: ${c.name}`], ['status', c.status], ['GL code', c.gl_code],
      ['created by', `${c.created_by} at ${localTime(c.created_at_utc)}`],
      ['approved by', c.approved_by ? `${c.approved_by} at ${localTime(c.approved_at_utc)}` : null]]
      : [['campaign', 'none']]);
    const e = t.entry;
    definitions($('t-entry'), [['entry', e.entry_id], ['kind', e.kind], ['business day', e.business_day],
      ['posted at (Asia/Shanghai)', localTime(e.posted_at_utc)], ['description', e.description], ['content hash', e.content_hash, 'hash']]);
    const lines = $('t-lines').querySelector('tbody');
    lines.replaceChildren();
    for (const l of e.lines) {
      lines.append(el('tr', {}, el('td', { text: l.line }), el('td', { text: l.account }), el('td', { text: l.side }),
        el('td', { class: 'text-end l-amount', text: cny(l.amount) }), el('td', { class: 'text-end', text: cny(l.balance_after) }),
        el('td', { class: 'hash l-hash', text: l.line_hash })));
    }
    $('chain').classList.remove('d-none');
  }

  function traceForm() {
    const initial = new URLSearchParams(window.location.search).get('payment_id');
    if (initial) {
      $('payment-id').value = initial;
      tracePage(initial);
    }
    $('trace-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const id = $('payment-id').value.trim();
      window.history.replaceState(null, '', '?' + new URLSearchParams({ payment_id: id }).toString());
      tracePage(id);
    });
  }

  function verifyPage() {
    $('run-verify').addEventListener('click', async () => {
      $('run-verify').disabled = true;
      const res = await api('POST', '/v1/audit/verify');
      $('run-verify').disabled = false;
      if (!res.ok) return showError(describe(res));
      clearError();
      const v = res.json;
      $('verify-ok').textContent = v.ok ? 'every check passed' : 'violations found';
      $('verify-ok').className = v.ok ? 'text-success' : 'text-danger';
      $('chain-digest').textContent = v.chain_digest;
      const body = $('checks').querySelector('tbody');
      body.replaceChildren();
      for (const c of v.checks) {
        body.append(el('tr', { 'data-check': c.name }, el('td', { text: c.name }),
          el('td', {}, el('span', { class: 'badge ' + (c.ok ? 'bg-success' : 'bg-danger'), text: c.ok ? 'ok' : 'violated' })),
          el('td', { class: 'text-end v-violations', text: c.violations }), el('td', { class: 'small', text: c.sample })));
      }
      $('verify-result').classList.remove('d-none');
    });
  }

  // ---------------------------------------------------------------------------- reconciliation
  // The day's runs (GET /v1/reconciliations): each run's counts per category and its differences.
  async function reconciliationPage() {
    const query = new URLSearchParams(window.location.search);
    const day = query.get('date') || todayInShanghai();
    $('recon-date').value = day;
    $('recon-form').addEventListener('submit', (e) => {
      e.preventDefault();
      window.location.search = '?date=' + encodeURIComponent($('recon-date').value.trim());
    });
    const res = await api('GET', `/v1/reconciliations?date=${encodeURIComponent(day)}`);
    if (!res.ok) return showError(describe(res));
    const box = $('recon-runs');
    box.replaceChildren();
    $('recon-none').classList.toggle('d-none', res.json.runs.length > 0);
    const categories = ['MATCHED', 'CLEARING_ONLY', 'AMOUNT_MISMATCH', 'STATUS_MISMATCH', 'LEDGER_ONLY', 'CUTOFF'];
    for (const r of res.json.runs) {
      const differences = r.differences_total;
      const card = el('div', { class: 'card mb-3 recon-run', 'data-run': r.id, 'data-profile': r.profile });
      const body = el('div', { class: 'card-body' });
      body.append(el('h2', { class: 'h5' }, `${r.profile} · ${r.file.name} `,
        el('span', { class: 'badge ' + (differences === 0 ? 'bg-success' : 'bg-danger'),
          text: differences === 0 ? 'all matched' : `${differences} difference(s)` })));
      body.append(el('p', { class: 'small mb-2', text: `run ${r.id} by ${r.run_by} at ${r.run_at} UTC; file SHA-256 ${r.file.sha256.slice(0, 16)}…; ` +
        `clearing ${r.clearing.payments} payments ${r.clearing.payments_amount}, ${r.clearing.refunds} refunds ${r.clearing.refunds_amount}; ` +
        `ledger ${r.ledger.payments} payments ${r.ledger.payments_amount}, ${r.ledger.refunds} reversals ${r.ledger.refunds_amount}; ` +
        `difference ${r.difference}` }));
      const counts = el('table', { class: 'table table-sm w-auto recon-counts' });
      const head = el('tr');
      const row = el('tr');
      for (const c of categories) {
        head.append(el('th', { class: 'text-end', text: c }));
        row.append(el('td', { class: 'text-end', 'data-category': c, text: r.counts[c] }));
      }
      counts.append(el('thead', {}, head), el('tbody', {}, row));
      body.append(counts);
      if (r.differences.length > 0) {
        const list = el('table', { class: 'table table-sm recon-differences' });
        list.append(el('thead', {}, el('tr', {}, ...['#', 'Category', 'Payment', 'Line', 'Ledger', 'Clearing', 'Detail']
          .map((h) => el('th', { text: h })))));
        const tbody = el('tbody');
        for (const d of r.differences) {
          tbody.append(el('tr', { 'data-payment': d.payment_id, 'data-category': d.category },
            el('td', { text: d.item_no }), el('td', { text: d.category }), el('td', { text: d.payment_id }),
            el('td', { text: d.file_line === null ? '' : d.file_line }),
            el('td', { class: 'text-end', text: d.ledger_amount === null ? '' : d.ledger_amount }),
            el('td', { class: 'text-end', text: d.clearing_amount === null ? '' : d.clearing_amount }),
            el('td', { class: 'small', text: d.detail })));
        }
        list.append(tbody);
        body.append(list);
        if (r.differences.length < differences) {
          body.append(el('p', { class: 'small', text: `the first ${r.differences.length} of ${differences} differences` }));
        }
      }
      card.append(body);
      box.append(card);
    }
  }

  // ------------------------------------------------------------------------------------ start
  const start = {
    'campaigns.html': campaignsPage,
    'campaign.html': () => { campaignActions(); return campaignPage(); },
    'new-campaign.html': newCampaignPage,
    'outlets.html': () => { outletsForm(); return outletsPage(); },
    'trace.html': traceForm,
    'verify.html': verifyPage,
    'reconciliation.html': reconciliationPage,
  }[page];
  if (start && !document.getElementById('forbidden')) {
    Promise.resolve(start()).then(() => { document.body.dataset.ready = '1'; })
      .catch((e) => { showError(String(e)); document.body.dataset.ready = '1'; });
  }
}());
