// meganode status page: a client of the node's own websocket API (miniBlocks,
// newHeads, finality subscriptions; eth_/mega_ calls) plus /metrics and
// /ready for the role's panel. Plain JS, canvas charts, no dependencies.
'use strict';
const $ = (id) => document.getElementById(id);
const role = document.body.dataset.role;
const STAGES = ['preconfirmed', 'sealed', 'safe', 'proven', 'finalized'];
const WINDOW = 300; // seconds the charts keep
const num = (x) => (x == null ? null : Number(x)); // hex quantities fit a double here
const hex = (n) => '0x' + n.toString(16);
const fmt = (x) => (x == null ? '–' : x >= 1e9 ? (x / 1e9).toFixed(2) + ' G' : x >= 1e6 ? (x / 1e6).toFixed(2) + ' M' : x >= 1e4 ? (x / 1e3).toFixed(1) + ' k' : String(Math.round(x * 100) / 100));
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

// ---- JSON-RPC over the node's websocket, reconnecting (and resuming the
// mini-block stream where it stopped).
let ws = null, nextId = 1, hasChain = true;
const pending = new Map(), subs = new Map();
function connect() {
  ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/');
  ws.onopen = () => { setConn(true, 'live'); start().catch((e) => setConn(true, e.message)); };
  ws.onerror = () => {}; // onclose follows and reconnects
  ws.onclose = (ev) => {
    setConn(false, ev.reason || 'disconnected');
    for (const p of pending.values()) p.reject(new Error('connection closed'));
    pending.clear(); subs.clear();
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.method === 'eth_subscription') { const h = subs.get(m.params.subscription); if (h) h(m.params.result); return; }
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code })); else p.resolve(m.result);
  };
}
function call(method, ...params) {
  return new Promise((resolve, reject) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) { reject(new Error('not connected')); return; }
    const id = nextId++;
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  });
}
async function subscribe(params, handler) { const id = await call('eth_subscribe', ...params); subs.set(id, handler); return id; }
function setConn(on, text) { const c = $('conn'); c.className = 'conn ' + (on ? 'on' : 'off'); c.textContent = text; }

async function start() {
  const [chainId, version] = await Promise.all([call('eth_chainId').catch(() => null), call('web3_clientVersion').catch(() => '')]);
  $('version').textContent = version;
  if (chainId == null) { hasChain = false; $('nochain').hidden = false; for (const id of ['live', 'minis', 'blocks', 'charts', 'search']) $(id).hidden = true; return; }
  $('chain').textContent = 'chain ' + num(chainId);
  // On a follower the stream's mini-blocks are the ones it applied, stamped by the sequencer.
  if (role === 'replica' || role === 'fullnode') $('lag-what').textContent = 'replica lag ms (now − the sequencer\'s mini-block timestamp)';
  const resume = last.mini >= 0 ? [{ from_mini_block_number: hex(last.mini + 1) }] : [];
  await subscribe(['miniBlocks', ...resume], onMini).catch(() => subscribe(['miniBlocks'], onMini));
  await subscribe(['newHeads'], onHead);
  const latest = await call('eth_getBlockByNumber', 'latest', false), top = num(latest.number);
  onHead(latest);
  await Promise.all(Array.from({ length: Math.min(23, top) }, (_, i) => call('eth_getBlockByNumber', hex(top - 1 - i), false)
    .then((b) => { if (b) blocks.set(num(b.number), { txs: b.transactions.length, gas: num(b.gasUsed), minis: num(b.miniBlockCount) }); })));
  try {
    await subscribe(['finality'], (f) => setHeads(f.heads, f.dispute));
    const f = await call('mega_getFinality', 'latest');
    if (f) setHeads(f.heads, f.dispute);
  } catch (e) { heads.none = true; } // no finality ladder on this node: blocks show as sealed
}

// ---- what the stream tells: per-second buckets, recent mini-blocks, blocks
const last = { mini: -1, ts: 0, block: 0, open: 0 };
const seconds = new Map(); // unix second → {txs, gas, minis, ivals[], lags[], da}
const recent = []; // newest 300 mini-blocks
const blocks = new Map(); // number → {txs, gas, minis}
const heads = { sealed: 0, safe: 0, proven: 0, finalized: 0, disputed: null, none: false };
let gaps = 0;
function bucket(s) {
  let b = seconds.get(s);
  if (!b) {
    b = { txs: 0, gas: 0, minis: 0, ivals: [], lags: [], da: null };
    seconds.set(s, b);
    for (const k of seconds.keys()) if (k < s - WINDOW - 5) seconds.delete(k);
  }
  return b;
}
function onMini(mb) {
  const n = num(mb.mini_block_number), ts = num(mb.mini_block_timestamp), blk = num(mb.block_number);
  const txs = mb.transactions.length, gas = num(mb.gas_used), now = Date.now();
  if (last.mini >= 0 && n !== last.mini + 1) gaps++;
  const b = bucket(Math.floor(now / 1000));
  if (last.ts && n === last.mini + 1) b.ivals.push((ts - last.ts) / 1000);
  b.lags.push(now - ts / 1000);
  b.txs += txs; b.gas += gas; b.minis++;
  last.mini = n; last.ts = ts; last.open = Math.max(last.open, blk);
  const blkInfo = blocks.get(blk) || { txs: 0, gas: 0, minis: 0 };
  blkInfo.txs += txs; blkInfo.gas += gas; blkInfo.minis++;
  blocks.set(blk, blkInfo);
  recent.push({ n, blk, idx: num(mb.index), txs, gas });
  if (recent.length > 300) recent.shift();
}
function onHead(h) {
  if (!h) return;
  const n = num(h.number);
  last.block = Math.max(last.block, n); last.open = Math.max(last.open, n + 1);
  if (!blocks.has(n)) blocks.set(n, { txs: (h.transactions || []).length, gas: num(h.gasUsed), minis: num(h.miniBlockCount) });
  for (const k of blocks.keys()) if (k < n - 64) blocks.delete(k);
  if (heads.none) heads.sealed = last.block;
}
function setHeads(h, dispute) {
  if (!h) return;
  for (const k of ['sealed', 'safe', 'proven', 'finalized']) heads[k] = Math.max(heads[k], num(h[k]));
  if (dispute) heads.disputed = num(dispute.blockNumber);
}
function stageOf(n) {
  if (heads.disputed != null && n >= heads.disputed) return 'disputed';
  if (n > Math.max(last.block, heads.sealed)) return 'preconfirmed';
  if (heads.none) return 'sealed';
  return n <= heads.finalized ? 'finalized' : n <= heads.proven ? 'proven' : n <= heads.safe ? 'safe' : 'sealed';
}
const quantile = (xs, q) => { if (!xs.length) return null; const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

// ---- drawing
function render() {
  if (!hasChain) return;
  const s = Math.floor(Date.now() / 1000) - 1, b = seconds.get(s);
  $('head').textContent = last.block || '–';
  $('mini').textContent = last.mini >= 0 ? last.mini : '–';
  $('mrate').textContent = b ? b.minis : '0';
  $('tps').textContent = fmt(b ? b.txs : 0);
  $('gps').textContent = fmt(b ? b.gas : 0);
  $('ival').textContent = b && b.ivals.length ? `${quantile(b.ivals, 0.5).toFixed(1)} / ${quantile(b.ivals, 0.99).toFixed(1)} ms` : '–';
  $('lag').textContent = b && b.lags.length ? quantile(b.lags, 0.5).toFixed(1) + ' ms' + (gaps ? ` · ${gaps} gaps` : '') : '–';
  drawStrip();
  $('minitable').tBodies[0].innerHTML = recent.slice(-8).reverse().map((m) => `<tr><td>${m.n}</td><td>${m.blk} · ${m.idx}</td><td>${m.txs}</td><td>${fmt(m.gas)}</td></tr>`).join('');
  const top = Math.max(last.open, last.block);
  let tiles = '';
  for (let n = top; n > top - 24 && n >= 0; n--) {
    const i = blocks.get(n) || {}, st = stageOf(n);
    tiles += `<div class="tile st-${st}" data-block="${n}" data-stage="${st}" title="${st}"><b>#${n}</b>${i.txs ?? '?'} txs<small>${fmt(i.gas ?? 0)} gas</small></div>`;
  }
  $('tiles').innerHTML = tiles;
  $('heads').textContent = heads.none ? '(no finality ladder on this node)' : `sealed ${heads.sealed} · safe ${heads.safe} · proven ${heads.proven} · finalized ${heads.finalized}`;
}
function canvas(id) {
  const c = $(id), dpr = window.devicePixelRatio || 1, w = c.clientWidth, h = Number(c.getAttribute('height'));
  if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.style.height = h + 'px'; c.height = Math.round(h * dpr); }
  const g = c.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);
  return { g, w, h };
}
function drawStrip() {
  const { g, w, h } = canvas('strip'), max = Math.max(1, ...recent.map((m) => m.txs)), bw = w / 300;
  recent.forEach((m, i) => {
    g.fillStyle = m.idx === 0 ? '#ffa94d' : '#4fa3ff';
    const y = m.txs ? Math.max(2, (h - 12) * m.txs / max) : 1;
    g.fillRect(i * bw, h - y, Math.max(1, bw - 0.5), y);
  });
  g.fillStyle = '#7d8894'; g.font = '11px sans-serif'; g.fillText(`max ${max} txs · orange = first of a block`, 4, 10);
}
const PALETTE = ['#4fa3ff', '#ffa94d', '#69db7c', '#da77f2']; // --k0… in style.css
// chart draws series (arrays of WINDOW values, null = none) as lines.
function chart(id, series) {
  const { g, w, h } = canvas(id), vals = series.flat().filter((v) => v != null);
  const max = Math.max(1, ...vals) * 1.1, x = (i) => (i / (WINDOW - 1)) * (w - 40) + 36, y = (v) => h - 14 - (v / max) * (h - 20);
  g.strokeStyle = '#26303b'; g.fillStyle = '#7d8894'; g.font = '11px sans-serif';
  for (const f of [0, 0.5, 1]) { g.beginPath(); g.moveTo(36, y(max * f / 1.1)); g.lineTo(w, y(max * f / 1.1)); g.stroke(); g.fillText(fmt(max * f / 1.1), 0, y(max * f / 1.1) + 4); }
  g.fillText(`−${WINDOW / 60} min`, 36, h - 2); g.fillText('now', w - 24, h - 2);
  series.forEach((vs, k) => {
    g.strokeStyle = PALETTE[k % PALETTE.length]; g.lineWidth = 1.5; g.beginPath();
    let up = false;
    vs.forEach((v, i) => { if (v == null) { up = false; return; } up ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v)); up = true; });
    g.stroke();
  });
}
function renderCharts() {
  if (!hasChain) return;
  const now = Math.floor(Date.now() / 1000) - 1, col = (f) => Array.from({ length: WINDOW }, (_, i) => { const b = seconds.get(now - WINDOW + 1 + i); return b ? f(b) : null; });
  chart('c-tps', [col((b) => b.txs)]);
  chart('c-ival', [col((b) => quantile(b.ivals, 0.5)), col((b) => quantile(b.ivals, 0.99))]);
  chart('c-lag', [col((b) => quantile(b.lags, 0.5)), col((b) => quantile(b.lags, 1))]);
  chart('c-da', [hold(col((b) => b.da))]);
  if (rlagKeys.length) chart('c-rlag', rlagKeys.map((u) => hold(col((b) => b.rlag && b.rlag[u]))));
}
// hold carries a value polled every 2 s over the seconds between polls, so
// the line joins; a gap of more than 5 s stays a gap.
function hold(vs) {
  let v = null, age = 0;
  return vs.map((x) => { if (x != null) { v = x; age = 0; return x; } return ++age <= 5 ? v : null; });
}

// ---- DA: the newest posted block against the head (mega_getDACommitments)
let daHead = 0, daOff = false;
async function pollDA() {
  if (daOff || !hasChain || !last.block) return;
  try {
    const list = await call('mega_getDACommitments', hex(daHead ? daHead + 1 : Math.max(1, last.block - 256)), hex(1000));
    for (const c of list || []) daHead = Math.max(daHead, num(c.lastBlock));
    if (daHead) bucket(Math.floor(Date.now() / 1000)).da = Math.max(0, last.block - daHead);
  } catch (e) { if (e.code === -32601) daOff = true; }
}

// ---- search: tx hash, block number or hash, address
let watching = null;
$('sform').addEventListener('submit', (ev) => { ev.preventDefault(); search($('q').value.trim()).catch((e) => show(`<p class="err">${esc(e.message)}</p>`)); });
const show = (html) => { $('result').innerHTML = html; };
const kv = (o) => '<table>' + Object.entries(o).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v ?? '–')}</td></tr>`).join('') + '</table>';
const eth = (wei) => { const w = BigInt(wei); return `${w / 10n ** 18n}.${String(w % 10n ** 18n).padStart(18, '0').slice(0, 6)} ETH`; };
async function search(q) {
  clearTimeout(watching);
  if (/^0x[0-9a-fA-F]{64}$/.test(q)) {
    const [r, tx] = await Promise.all([call('eth_getTransactionReceipt', q), call('eth_getTransactionByHash', q)]);
    if (r || tx) return showTx(q, r, tx);
    const b = await call('eth_getBlockByHash', q, false);
    return b ? showBlock(b) : show(`<p class="err">nothing known by ${esc(q)}</p>`);
  }
  if (/^0x[0-9a-fA-F]{40}$/.test(q)) {
    const [bal, nonce, code] = await Promise.all([call('eth_getBalance', q, 'latest'), call('eth_getTransactionCount', q, 'latest'), call('eth_getCode', q, 'latest')]);
    return show(`<h3>address ${esc(q)}</h3>` + kv({ balance: eth(bal), nonce: num(nonce), kind: code && code !== '0x' ? `contract (${(code.length - 2) / 2} bytes)` : 'account' }));
  }
  if (/^(\d+|0x[0-9a-fA-F]{1,16})$/.test(q)) {
    const b = await call('eth_getBlockByNumber', hex(Number(q)), false);
    return b ? showBlock(b) : show(`<p class="err">no block ${esc(q)}</p>`);
  }
  show('<p class="err">want a tx hash, a block number or hash, or an address</p>');
}
// ladder is the finality ladder of a tx or block: {html, stage}, the time
// of each stage after the first one this node saw.
async function ladder(target) {
  let f = null;
  try { f = await call('mega_getFinality', target); } catch (e) { return { html: '', stage: null }; }
  if (!f) return { html: '', stage: null };
  const t = f.timestamps || {}, t0 = num(t.preconfirmed ?? t.sealed);
  const cells = f.stage === 'disputed' ? '<span class="reached st-disputed">disputed</span>' : STAGES.map((s) => {
    const at = num(t[s]), reached = at != null || STAGES.indexOf(s) <= STAGES.indexOf(f.stage);
    const when = at != null ? ` title="${new Date(at).toISOString()}"` : '';
    return `<span class="${reached ? 'reached st-' + s : ''}"${when}>${s}${at != null && t0 != null ? ' +' + (at - t0) + ' ms' : ''}</span>`;
  }).join('');
  return { html: `<div class="ladder" id="ladder" data-stage="${esc(f.stage)}">${cells}</div>`, stage: f.stage };
}
async function showTx(hash, r, tx) {
  const lad = await ladder(hash);
  show(`<h3>transaction ${esc(hash)}</h3>${lad.html}` + kv({
    status: r ? (r.status === '0x1' ? 'success' : 'reverted') : 'pending', block: num((r || tx).blockNumber), index: r ? num(r.transactionIndex) : null,
    blockHash: r ? r.blockHash : null, from: (tx || r).from, to: (tx || r).to ?? r?.contractAddress, value: tx ? eth(tx.value) : null,
    nonce: tx ? num(tx.nonce) : null, gasUsed: r ? num(r.gasUsed) : null, logs: r ? r.logs.length : null,
  }));
  if (lad.stage !== 'finalized' && lad.stage !== 'disputed') { // watch it climb
    watching = setTimeout(() => search(hash).catch(() => { watching = setTimeout(() => search(hash).catch(() => {}), 1000); }), 500);
  }
}
async function showBlock(b) {
  show(`<h3>block ${num(b.number)}</h3>${(await ladder(b.hash)).html}` + kv({ hash: b.hash, parent: b.parentHash, time: new Date(num(b.timestamp) * 1000).toISOString(),
    txs: b.transactions.length, gasUsed: num(b.gasUsed), miniBlocks: num(b.miniBlockCount), stateRoot: b.stateRoot }));
}

// ---- the role's panel: /metrics (every meganode_ and gateway_ series),
// /ready (a gateway's backends) and ha_status/ha_members (an HA candidate)
let prevMetrics = null, haOff = false, haTerm = null, haChanged = null;
function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    const m = /^((?:meganode|gateway)_[a-z0-9_]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m) out.set(m[1] + (m[2] || ''), { name: m[1], labels: m[2] || '', v: Number(m[3]) });
  }
  return out;
}
function histograms(ms) {
  const hs = new Map();
  for (const s of ms.values()) {
    if (!s.name.endsWith('_bucket')) continue;
    const le = /le="([^"]+)"/.exec(s.labels)[1], rest = s.labels.replace(/,?le="[^"]+"/, '').replace('{}', '');
    const key = s.name.slice(0, -7) + rest;
    (hs.get(key) || hs.set(key, []).get(key)).push([le === '+Inf' ? Infinity : Number(le), s.v]);
  }
  const q = (bs, f) => { const n = bs[bs.length - 1][1]; const b = bs.find(([, c]) => c >= f * n); return b && isFinite(b[0]) ? '≤ ' + fmt(b[0]) : '> ' + fmt(bs[bs.length - 2]?.[0] ?? 0); };
  return [...hs].map(([k, bs]) => { bs.sort((a, b) => a[0] - b[0]); const n = bs[bs.length - 1][1]; return `<tr><td>${esc(k)}</td><td>${n}</td><td>${n ? q(bs, 0.5) : '–'}</td><td>${n ? q(bs, 0.99) : '–'}</td></tr>`; }).join('');
}
// replicaLag charts, on a gateway, how far each following upstream's
// mini-block is behind the newest one /ready reports (a sequencer's, unless
// it is the one behind).
const rlagKeys = []; // backend URLs in colour order, at most one per colour
function replicaLag(backends) {
  const top = Math.max(0, ...backends.map((b) => b.miniBlock || 0)), lag = {};
  for (const b of backends) {
    if (b.role === 'sequencer') continue;
    if (!rlagKeys.includes(b.url) && rlagKeys.length < PALETTE.length) rlagKeys.push(b.url);
    if (rlagKeys.includes(b.url)) lag[b.url] = top - (b.miniBlock || 0);
  }
  if (!rlagKeys.length) return;
  bucket(Math.floor(Date.now() / 1000)).rlag = lag;
  $('f-rlag').hidden = false;
  const roleOf = new Map(backends.map((b) => [b.url, b.role]));
  $('rlag-keys').innerHTML = rlagKeys.map((u, k) => `<i class="k${k}" data-url="${esc(u)}" data-lag="${lag[u] ?? ''}">${esc(roleOf.get(u) || '')} ${esc(u.replace(/^https?:\/\//, ''))}: ${lag[u] ?? '–'}</i>`).join(' ');
}
async function pollNode() {
  try {
    const res = await fetch('/metrics');
    if (res.ok) {
      const ms = parseMetrics(await res.text()), dt = prevMetrics ? (Date.now() - prevMetrics.at) / 1000 : 0, rows = [];
      for (const [k, s] of ms) {
        if (/_(bucket|sum|count)$/.test(s.name)) continue;
        const p = prevMetrics && prevMetrics.ms.get(k), rate = s.name.endsWith('_total') && p && dt ? fmt((s.v - p.v) / dt) : '';
        rows.push(`<tr><td>${esc(k)}</td><td>${fmt(s.v)}</td><td>${rate}</td></tr>`);
      }
      $('metrics').tBodies[0].innerHTML = rows.join('');
      $('hists').tBodies[0].innerHTML = histograms(ms);
      prevMetrics = { ms, at: Date.now() };
    }
  } catch (e) { /* the node is restarting: the next poll tries again */ }
  if (role === 'gateway') {
    try {
      const r = await (await fetch('/ready')).json();
      replicaLag(r.backends || []);
      $('backends').hidden = false;
      $('backends').innerHTML = '<h3>Upstreams</h3><table><tr><th>backend</th><th>role</th><th>healthy</th><th>block</th><th>mini-block</th><th>reason</th></tr>' +
        (r.backends || []).map((b) => `<tr><td>${esc(b.url)}</td><td>${esc(b.role)}</td><td>${b.healthy ? 'yes' : 'no'}</td><td>${b.block}</td><td>${b.miniBlock}</td><td>${esc(b.reason || '')}</td></tr>`).join('') + '</table>';
    } catch (e) { /* next poll */ }
  }
  if (role === 'sequencer' && !haOff && ws && ws.readyState === WebSocket.OPEN) {
    try {
      const [st, members] = await Promise.all([call('ha_status'), call('ha_members')]);
      if (haTerm !== null && st.term !== haTerm) haChanged = new Date();
      haTerm = st.term;
      $('ha').hidden = false;
      $('ha').innerHTML = `<h3>HA group: this candidate ${esc(st.id)} is ${esc(st.state)}${st.leading ? ' and produces blocks' : ''}; leader ${esc(st.leader || '(election)')}, term ${st.term}` +
        `${haChanged ? ', last leader change seen ' + haChanged.toLocaleTimeString() : ''}</h3><table><tr><th>member</th><th>raft address</th><th>voter</th><th>leader</th></tr>` +
        members.map((m) => `<tr><td>${esc(m.id)}</td><td>${esc(m.addr)}</td><td>${m.voter}</td><td>${m.leader}</td></tr>`).join('') + '</table>';
    } catch (e) { if (e.code === -32601) haOff = true; }
  }
}

connect();
setInterval(render, 200);
setInterval(renderCharts, 1000);
setInterval(pollDA, 2000);
setInterval(pollNode, 2000);
// The node closes a websocket that sent no request for a minute.
setInterval(() => call('eth_chainId').catch(() => {}), 20000);
pollNode();
