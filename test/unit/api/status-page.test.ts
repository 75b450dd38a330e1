import { describe, expect, it } from 'vitest';
import { lineChart, renderStatusPage, type StatusDoc, type StatusPageModel } from '../../../src/api/status-page.js';

const counts = { proposed: 0, 'pending-commit': 1, 'in-flight': 0, committed: 5, expired: 0, rejected: 0, dead: 1 };
const lag = {
  slaMs: 500,
  oldestPendingAgeMs: 20,
  pending: 1,
  recent: { commits: 5, p99Ms: 5, overSla: 0, windowMs: 300_000 },
  ok: true,
  breaches: [],
};
const status: StatusDoc = {
  ok: true,
  peerId: '12D3KooWPeerPeerPeer',
  at: '2026-01-01T00:10:00.000Z',
  nats: {
    state: 'connected',
    streamsReady: true,
    servers: ['nats://127.0.0.1:4222'],
    jetstream: { streams: [{ name: 'COMMANDS', messages: 5, lastSeq: 5, bytes: 100 }] },
  },
  peers: { enabled: true, connected: ['12D3KooWOtherPeer1'], meshPeers: 1, quorum: 2 },
  outbox: { command: counts, telemetry: counts },
  oldestPendingAgeMs: 20,
  lag: { command: lag, telemetry: { ...lag, slaMs: 2_000 } },
  sla: { ok: true, breaches: [] },
  telemetry: { summarise: 'origin', scout: false },
};

function model(over: Partial<StatusPageModel> = {}): StatusPageModel {
  const t0 = Date.parse(status.at) - 60_000;
  return {
    status,
    history: [0, 1, 2].map((i) => ({
      atMs: t0 + i * 30_000,
      pending: i,
      lagMs: i * 100,
      peers: 1,
      natsConnected: true,
    })),
    recent: [
      {
        correlationId: '01ABC',
        state: 'committed',
        subject: 'root.solar.command.a.b',
        endorsements: [{ peerId: '12D3KooWOtherPeer1' }],
        attempts: 1,
        createdAt: status.at,
        streamSeq: 5,
        stream: 'COMMANDS',
      },
    ],
    refreshSeconds: 5,
    ...over,
  };
}

describe('status page', () => {
  it('is one self-contained document: no script, no external asset, inline SVG charts', () => {
    const html = renderStatusPage(model());
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org)/);
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain('<polyline');
    expect(html).toContain('http-equiv="refresh" content="5"');
  });

  it('shows NATS state, peers, SLA verdicts and recent intents with their endorsers', () => {
    const html = renderStatusPage(model());
    expect(html).toContain('connected');
    expect(html).toContain('12D3KooWOtherPeer1');
    expect(html).toContain('within SLA');
    expect(html).toMatch(/data-correlation-id="01ABC"[\s\S]*committed[\s\S]*…herPeer1/);
  });

  it('escapes what it shows', () => {
    const html = renderStatusPage(model({ recent: [{ ...model().recent[0]!, subject: '<img onerror=x>' }] }));
    expect(html).not.toContain('<img onerror');
    expect(html).toContain('&lt;img onerror=x&gt;');
  });

  it('draws a threshold line and says when samples are still being collected', () => {
    expect(lineChart('lag', ' ms', [], '#000', 500)).toContain('collecting samples');
    expect(
      lineChart(
        'lag',
        ' ms',
        [
          [0, 1],
          [60_000, 2],
        ],
        '#000',
        500,
      ),
    ).toMatch(/−1 min[\s\S]*stroke-dasharray/);
  });
});
