/**
 * (i) Federation catch-up (issue 20): the leaf is cut at the proxy (and the hub's `/leafz` must
 * show it gone), N events are sent and committed on ORG's side, the cut is held to `cutMs`, the
 * link restored; timed from the leaf's return (the hub's `/leafz` shows it again) until every
 * receipt is applied at ORG (ours: ORG's ledger, `GET /v1/federation/partners`, polled every
 * 20 ms once every receipt is in FEDERATION) or every raw ack is back (raw: seen by the ordered consumer on ORG's side). Each run
 * also checks that nothing crossed during the cut: none of its events stored at acme before
 * the heal, and `/leafz` at 0 in every sample. A run where either fails is marked invalid.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { closedLoop } from './common.js';
import { type FederationLink, now, type Seen } from './federation-link.js';
import { publishRaw } from './federation-roundtrip.js';

/** Figures of one catch-up; times in ms. */
export interface CatchUp {
  path: 'net-sync' | 'raw';
  count: number;
  /** Cut → every event committed at ORG (posted and stored, or published). */
  sendMs: number;
  cutMs: number;
  /** Heal → the hub's `/leafz` shows the leaf. */
  leafReturnMs: number;
  /** The figure against the goal: leaf back → every receipt applied / every raw ack back. */
  catchUpMs: number;
  /** Leaf back → the last event stored at acme, pushed (ours), its receipt stored at acme, at ORG. */
  lastStoredAtAcmeMs: number;
  lastPushedMs?: number;
  lastReceiptAtAcmeMs: number;
  lastReceiptAtOrgMs: number;
  /** Leaf back → the first event stored at acme (the sources resuming). */
  firstStoredAtAcmeMs: number;
  /** The first event stored at acme → done: the catch-up once NATS's source has resumed. */
  afterSourceResumedMs: number;
  /** ORG's ledger during the cut (ours): acme's unacked, which NATS's lag does not show. */
  unackedDuringCut?: number;
  /** Samples of the hub's `/leafz` during the cut, and events stored at acme before the heal. */
  leafzDuringCut: number[];
  crossedDuringCut: number;
  valid: boolean;
}

const max = (ids: readonly string[], f: (id: string) => number | undefined): number => {
  let m = Number.NEGATIVE_INFINITY;
  for (const id of ids) m = Math.max(m, f(id) ?? Number.POSITIVE_INFINITY);
  return m;
};
const min = (ids: readonly string[], f: (id: string) => number | undefined): number =>
  Math.min(...ids.map((id) => f(id) ?? Number.POSITIVE_INFINITY));

/** Cuts, runs `send` (which returns the IDs once committed at ORG), holds the cut to `cutMs`, heals. */
async function underCut(
  link: FederationLink,
  cutMs: number,
  send: () => Promise<string[]>,
  crossed: (ids: readonly string[]) => void,
): Promise<{ ids: string[]; sendMs: number; cutMs: number; healAt: number; leafUpAt: number; leafz: number[] }> {
  await link.servers.leaf.cut();
  const cutAt = now();
  await link.waitLeaf(false, 10_000);
  const ids = await send();
  const sendMs = now() - cutAt;
  const leafz: number[] = [];
  do {
    leafz.push(await link.leafs());
    await sleep(Math.min(500, Math.max(0, cutAt + cutMs - now())));
  } while (now() < cutAt + cutMs);
  leafz.push(await link.leafs());
  crossed(ids); // what reached acme before the heal
  await link.servers.leaf.heal();
  const healAt = now();
  const leafUpAt = await link.waitLeaf(true, 60_000);
  return { ids, sendMs, cutMs: healAt - cutAt, healAt, leafUpAt, leafz };
}

function figures(
  path: CatchUp['path'],
  cut: Awaited<ReturnType<typeof underCut>>,
  doneAt: number,
  crossedBeforeHeal: number,
  seen: { event: Map<string, Seen>; ackAtAcme: Map<string, Seen>; ackAtOrg: Map<string, Seen> },
  pushedAt?: Map<string, number>,
): CatchUp {
  const { ids, leafUpAt } = cut;
  const st = (m: Map<string, Seen>) => (id: string) => m.get(id)?.storedMs;
  return {
    path,
    count: ids.length,
    sendMs: Math.round(cut.sendMs),
    cutMs: Math.round(cut.cutMs),
    leafReturnMs: Math.round(leafUpAt - cut.healAt),
    catchUpMs: Math.round(doneAt - leafUpAt),
    firstStoredAtAcmeMs: Math.round(min(ids, st(seen.event)) - leafUpAt),
    afterSourceResumedMs: Math.round(doneAt - min(ids, st(seen.event))),
    lastStoredAtAcmeMs: Math.round(max(ids, st(seen.event)) - leafUpAt),
    ...(pushedAt === undefined ? {} : { lastPushedMs: Math.round(max(ids, (id) => pushedAt.get(id)) - leafUpAt) }),
    lastReceiptAtAcmeMs: Math.round(max(ids, st(seen.ackAtAcme)) - leafUpAt),
    lastReceiptAtOrgMs: Math.round(max(ids, st(seen.ackAtOrg)) - leafUpAt),
    leafzDuringCut: cut.leafz,
    crossedDuringCut: crossedBeforeHeal,
    valid: crossedBeforeHeal === 0 && cut.leafz.every((n) => n === 0),
  };
}

/** Raw catch-up: `n` raw events published during the cut; acme's raw client acks each (installRawAcker). */
export async function rawCatchUp(link: FederationLink, n: number, cutMs: number, tag: string): Promise<CatchUp> {
  let crossed = 0;
  const cut = await underCut(
    link,
    cutMs,
    async () => {
      const ids = Array.from({ length: n }, (_, i) => `${tag}-${i}`);
      await closedLoop(n, 256, (i) => publishRaw(link, ids[i]!));
      return ids;
    },
    (ids) => (crossed = ids.filter((id) => link.partner.seen.raw.has(id)).length),
  );
  const deadline = now() + 300_000;
  while (cut.ids.some((id) => !link.hub.seen.rawack.has(id))) {
    if (now() > deadline) throw new Error('bench: (i) raw acks did not all come back within 300 s');
    await sleep(5);
  }
  const doneAt = max(cut.ids, (id) => link.hub.seen.rawack.get(id)?.seenMs);
  await link.settleObservers();
  const { raw, rawack } = link.partner.seen;
  return figures('raw', cut, doneAt, crossed, { event: raw, ackAtAcme: rawack, ackAtOrg: link.hub.seen.rawack });
}

/** Our catch-up: `n` events posted to ORG's sidecar during the cut (16 in flight), committed before the heal. */
export async function ourCatchUp(link: FederationLink, n: number, cutMs: number): Promise<CatchUp> {
  const org = link.org;
  if (org === undefined) throw new Error('bench: (i) needs the sidecars');
  const before = await link.orgPartner();
  if (before === undefined || before.unacked !== 0) throw new Error(`bench: (i) starts with ${JSON.stringify(before)}`);
  let crossed = 0;
  let unackedDuringCut = 0;
  const cut = await underCut(
    link,
    cutMs,
    async () => {
      const ids: string[] = [];
      await closedLoop(n, 16, async (i) => {
        const res = await fetch(`${org.url}/v1/federation/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ partner: 'acme', type: 'bench.catchup', payload: { i, pad: 'x'.repeat(200) } }),
          signal: AbortSignal.timeout(60_000),
        });
        const json = (await res.json()) as { eventId?: string };
        if (res.status !== 202 || json.eventId === undefined) throw new Error(`bench: POST ${res.status}`);
        ids.push(json.eventId);
      });
      const deadline = now() + 300_000;
      while (ids.some((id) => !link.hub.seen.event.has(id))) {
        if (now() > deadline) throw new Error('bench: (i) events not all committed within 300 s');
        await sleep(20);
      }
      unackedDuringCut = (await link.orgPartner())?.unacked ?? -1;
      return ids;
    },
    (ids) => (crossed = ids.filter((id) => link.partner.seen.event.has(id)).length),
  );
  const target = before.acked + before.rejected + n;
  const deadline = now() + 600_000;
  let doneAt = 0;
  for (;;) {
    const p = await link.orgPartner();
    if (p !== undefined && p.acked + p.rejected >= target) {
      doneAt = now();
      break;
    }
    if (now() > deadline) throw new Error(`bench: (i) ${JSON.stringify(p)} after 600 s, want ${target} settled`);
    // The ledger's summary reads every applied receipt: every 500 ms until the last receipt is in
    // FEDERATION, then every 20 ms, so that measuring costs ORG's sidecar little.
    await sleep(cut.ids.every((id) => link.hub.seen.ack.has(id)) ? 20 : 500);
  }
  await link.settleObservers();
  const { event, ack } = link.partner.seen;
  return {
    ...figures(
      'net-sync',
      cut,
      doneAt,
      crossed,
      { event, ackAtAcme: ack, ackAtOrg: link.hub.seen.ack },
      link.agent.pushedAt,
    ),
    unackedDuringCut,
  };
}
