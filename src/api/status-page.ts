/**
 * The status page at `GET /`: one self-contained HTML document (inline CSS and SVG, no script,
 * no external asset) rendered from a status snapshot, its recent history and the latest
 * intents. It refreshes itself every few seconds.
 */
import type { IntentView } from './api-server.js';
import type { FederationStatus } from '../core/federation-receipt.js';

/** Lag of one kind against its SLA (see src/core/sla.ts). */
export interface StatusLag {
  slaMs: number;
  oldestPendingAgeMs: number;
  pending: number;
  recent: { commits: number; p99Ms: number | null; overSla: number; windowMs: number };
  ok: boolean;
  breaches: string[];
}

/** The document `GET /v1/status` answers and `net-sync status` reports. */
export interface StatusDoc {
  /** Ready (streams checked) and every SLA met. */
  ok: boolean;
  peerId: string;
  at: string;
  nats: {
    state: string;
    streamsReady: boolean;
    /** Server URLs with any credentials removed. */
    servers: string[];
    jetstream: { streams: Array<{ name: string; messages: number; lastSeq: number; bytes: number }>; error?: string };
  };
  peers: { enabled: boolean; connected: string[]; meshPeers: number; quorum?: number };
  outbox: { command: Record<string, number>; telemetry: Record<string, number> };
  oldestPendingAgeMs: number;
  lag: { command: StatusLag; telemetry: StatusLag };
  sla: { ok: boolean; breaches: string[] };
  /** Who summarises this node's telemetry points (`telemetry.summarise`, docs/telemetry.md). */
  telemetry: { summarise: 'origin' | 'scouts'; scout: boolean };
  /** The mesh wiring's own snapshot, when the mesh is on. */
  mesh?: Record<string, unknown>;
  /** The inbox, when `inbox.subjects` is set. */
  inbox?: StatusInbox;
  /** This node's home shard, in a fleet (`consensus.members`, docs/fleet.md). */
  shard?: StatusShard;
  /** The ledger per partner, when federation is on (docs/federation.md). */
  federation?: FederationStatus;
}

/** The node's home shard in the status document. */
export interface StatusShard {
  /** `shard-<i>-of-<n>`; null when this node is not a member. */
  name: string | null;
  /** Its members' peer IDs. */
  members: string[];
  /** Members reachable now (this node, and mates on the shard's topic). */
  connectedMembers: number;
  /** Endorsements an intent of the shard needs; null when this node is not a member. */
  quorum: number | null;
  /** False when the connected members cannot reach the quorum: intents wait. */
  quorumReachable: boolean;
}

/** The inbox in the status document. */
export interface StatusInbox {
  mode: 'push' | 'pull';
  subjects: string[];
  /** Deliveries by result since start. */
  results: Record<string, number>;
  /** Per consumer: stored and not yet acknowledged (num_pending + num_ack_pending). */
  consumers: Array<{ consumer: string; stream: string; lag: number }>;
}

/** One point of the charts. */
export interface StatusPoint {
  atMs: number;
  pending: number;
  lagMs: number;
  peers: number;
  natsConnected: boolean;
}

/** Everything the page shows. */
export interface StatusPageModel {
  status: StatusDoc;
  history: StatusPoint[];
  recent: IntentView[];
  /** Seconds between automatic reloads. */
  refreshSeconds: number;
}

const esc = (v: unknown): string =>
  String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const short = (peerId: string): string => (peerId.length > 16 ? `…${peerId.slice(-8)}` : peerId);

function badge(ok: boolean, text: string): string {
  return `<span class="badge ${ok ? 'ok' : 'bad'}">${esc(text)}</span>`;
}

/** A small line chart of `points` (time, value) as inline SVG. */
export function lineChart(
  title: string,
  unit: string,
  points: ReadonlyArray<readonly [number, number]>,
  color: string,
  threshold?: number,
): string {
  const w = 460;
  const h = 120;
  const pad = { l: 44, r: 8, t: 8, b: 18 };
  const max = Math.max(1, threshold ?? 0, ...points.map(([, v]) => v));
  const t0 = points[0]?.[0] ?? 0;
  const t1 = points[points.length - 1]?.[0] ?? t0 + 1;
  const span = Math.max(1, t1 - t0);
  const x = (t: number): number => pad.l + ((t - t0) / span) * (w - pad.l - pad.r);
  const y = (v: number): number => h - pad.b - (v / max) * (h - pad.t - pad.b);
  const line = points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const limit =
    threshold === undefined
      ? ''
      : `<line x1="${pad.l}" x2="${w - pad.r}" y1="${y(threshold).toFixed(1)}" y2="${y(threshold).toFixed(1)}" stroke="#c0392b" stroke-dasharray="4 3"/>`;
  const minutes = Math.round(span / 60_000);
  return `<figure class="chart"><figcaption>${esc(title)}</figcaption>
<svg role="img" aria-label="${esc(title)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" xmlns="http://www.w3.org/2000/svg">
<rect x="${pad.l}" y="${pad.t}" width="${w - pad.l - pad.r}" height="${h - pad.t - pad.b}" fill="#fafafa" stroke="#ddd"/>
<text x="${pad.l - 4}" y="${pad.t + 10}" text-anchor="end" font-size="10">${esc(formatValue(max))}${esc(unit)}</text>
<text x="${pad.l - 4}" y="${h - pad.b}" text-anchor="end" font-size="10">0</text>
<text x="${pad.l}" y="${h - 4}" font-size="10">${points.length < 2 ? 'collecting samples…' : `−${minutes > 0 ? `${minutes} min` : `${Math.round(span / 1000)} s`}`}</text>
<text x="${w - pad.r}" y="${h - 4}" text-anchor="end" font-size="10">now</text>
${limit}${points.length === 0 ? '' : `<polyline fill="none" stroke="${color}" stroke-width="2" points="${line}"/>`}
</svg></figure>`;
}

function formatValue(v: number): string {
  return v >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
}

function lagRow(kind: string, l: StatusLag): string {
  const p99 = l.recent.commits === 0 ? '–' : `≤ ${l.recent.p99Ms === null ? '∞' : l.recent.p99Ms} ms`;
  return `<tr><td>${esc(kind)}</td><td>&lt; ${l.slaMs} ms</td><td>${l.oldestPendingAgeMs} ms</td><td>${l.pending}</td><td>${esc(p99)} (${l.recent.commits})</td><td>${badge(l.ok, l.ok ? 'within SLA' : 'SLA breached')}</td></tr>`;
}

function intentRow(v: IntentView, now: number): string {
  const endorsers =
    v.endorsements.length === 0
      ? '<span class="muted">none</span>'
      : v.endorsements.map((e) => `<code title="${esc(e.peerId)}">${esc(short(e.peerId))}</code>`).join(' ');
  const age = Math.max(0, Math.round((now - Date.parse(v.createdAt)) / 1000));
  return `<tr data-correlation-id="${esc(v.correlationId)}"><td><code>${esc(v.correlationId)}</code></td><td>${esc(v.subject)}</td><td class="state state-${esc(v.state)}">${esc(v.state)}</td><td>${v.streamSeq === undefined ? '' : esc(`${v.stream ?? ''} #${v.streamSeq}`)}</td><td>${endorsers}</td><td>${age} s</td></tr>`;
}

/** Renders the page. */
export function renderStatusPage(m: StatusPageModel): string {
  const s = m.status;
  const now = Date.parse(s.at);
  const depth = m.history.map((p) => [p.atMs, p.pending] as const);
  const lag = m.history.map((p) => [p.atMs, p.lagMs] as const);
  const states = Object.keys(s.outbox.command);
  const peers = s.peers.enabled
    ? `<p>${s.peers.connected.length} connected, ${s.peers.meshPeers} in the gossip mesh${s.peers.quorum === undefined ? '' : `, quorum ${s.peers.quorum}`}</p><ul id="peers">${s.peers.connected.map((p) => `<li><code>${esc(p)}</code></li>`).join('') || '<li class="muted">no peers</li>'}</ul>`
    : '<p class="muted" id="peers">mesh off (single node: the sidecar is its own quorum)</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${m.refreshSeconds}">
<title>net-sync ${esc(short(s.peerId))}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222}h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:16px 0 6px}
.grid{display:flex;flex-wrap:wrap;gap:16px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:280px}
table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}
.badge{padding:1px 6px;border-radius:4px;color:#fff}.ok{background:#2e7d32}.bad{background:#c0392b}.muted{color:#888}
.chart{margin:0}.chart figcaption{font-weight:600}.state-committed{color:#2e7d32}.state-dead,.state-rejected,.state-expired{color:#c0392b}
code{font-size:12px}
</style></head><body>
<h1>net-sync sidecar ${badge(s.ok, s.ok ? 'OK' : 'ATTENTION')}</h1>
<div class="muted">peer <code>${esc(s.peerId)}</code> · ${esc(s.at)} · refreshes every ${m.refreshSeconds} s</div>
<div class="grid">
<section class="card"><h2>NATS</h2><p id="nats-state">NATS ${badge(s.nats.state === 'connected', s.nats.state)} streams ${badge(s.nats.streamsReady, s.nats.streamsReady ? 'ready' : 'not ready')}</p>
<div class="muted">${s.nats.servers.map(esc).join(', ')}</div>
<table><tr><th>stream</th><th>messages</th><th>last seq</th></tr>${s.nats.jetstream.streams.map((st) => `<tr><td>${esc(st.name)}</td><td>${st.messages}</td><td>${st.lastSeq}</td></tr>`).join('')}</table>
${s.nats.jetstream.error === undefined ? '' : `<div class="muted">${esc(s.nats.jetstream.error)}</div>`}</section>
<section class="card"><h2>Peers</h2>${peers}</section>
<section class="card"><h2>Outbox</h2><table id="outbox"><tr><th>kind</th>${states.map((st) => `<th>${esc(st)}</th>`).join('')}</tr>
<tr><td>command</td>${states.map((st) => `<td>${s.outbox.command[st] ?? 0}</td>`).join('')}</tr>
<tr><td>telemetry</td>${states.map((st) => `<td>${s.outbox.telemetry[st] ?? 0}</td>`).join('')}</tr></table></section>${inboxCard(s.inbox)}${federationCard(s.federation)}
</div>
<h2>Commit lag against the SLAs</h2>
<table id="sla"><tr><th>kind</th><th>SLA</th><th>oldest pending</th><th>pending</th><th>recent p99 (commits)</th><th></th></tr>${lagRow('command', s.lag.command)}${lagRow('telemetry', s.lag.telemetry)}</table>
<div class="grid">${lineChart('Outbox depth (rows not yet committed)', '', depth, '#1f77b4')}${lineChart('Commit lag (oldest pending row)', ' ms', lag, '#ff7f0e', s.lag.command.slaMs)}</div>
<h2>Recent intents</h2>
<table id="intents"><tr><th>correlation ID</th><th>subject</th><th>state</th><th>stream</th><th>endorsers</th><th>age</th></tr>
${m.recent.map((v) => intentRow(v, now)).join('\n') || '<tr><td colspan="6" class="muted">none yet</td></tr>'}</table>
</body></html>`;
}

/** The page shown instead when a token is configured and the request lacks it. */
export function renderUnauthorizedPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>net-sync: unauthorized</title></head>
<body style="font:14px system-ui,sans-serif;margin:16px"><h1>401: unauthorized</h1>
<p>This sidecar requires its API token (<code>api.token</code>). Open <code>/?token=&lt;token&gt;</code>,
or send <code>Authorization: Bearer &lt;token&gt;</code>.</p></body></html>`;
}

function federationCard(f: FederationStatus | undefined): string {
  if (f === undefined) return '';
  const ok = f.gaps.length === 0 && f.rejected.length === 0;
  const rows = f.partners
    .map(
      (p) =>
        `<tr><td>${esc(p.name)}</td><td>${p.sent}</td><td>${p.acked}</td><td>${p.rejected}</td><td>${p.unacked}</td><td>${p.received}</td><td>${p.refused}</td></tr>`,
    )
    .join('');
  return `<section class="card"><h2>Federation</h2><p>${badge(ok, ok ? 'no gap' : `${f.gaps.length} gaps, ${f.rejected.length} rejected`)}</p>
<table id="federation"><tr><th>partner</th><th>sent</th><th>acked</th><th>rejected</th><th>unacked</th><th>received</th><th>refused</th></tr>${rows}</table></section>`;
}

function inboxCard(inbox: StatusInbox | undefined): string {
  if (inbox === undefined) return '';
  const results = Object.entries(inbox.results)
    .map(([k, v]) => `${esc(k)} ${v}`)
    .join(', ');
  const rows = inbox.consumers
    .map((c) => `<tr><td>${esc(c.consumer)}</td><td>${esc(c.stream)}</td><td>${c.lag}</td></tr>`)
    .join('');
  return `<section class="card"><h2>Inbox (${inbox.mode})</h2><p>${esc(inbox.subjects.join(', '))}</p><p>${results || 'no deliveries yet'}</p><table id="inbox"><tr><th>consumer</th><th>stream</th><th>lag</th></tr>${rows}</table></section>`;
}
