import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../../src/core/backoff.js';
import { buildCommandRow, HEADER } from '../../../src/core/command-message.js';
import { NetSyncError } from '../../../src/core/errors.js';
import { parseIntentInput } from '../../../src/core/intent-input.js';
import { checkSubject } from '../../../src/core/subject.js';
import { childTraceparent, isTraceparent } from '../../../src/core/trace-context.js';
import { parseBytes, parseDurationMs } from '../../../src/core/units.js';

const limits = { prefix: 'root.solar', maxPayloadBytes: 64 };

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NetSyncError);
    return (err as NetSyncError).field;
  }
  throw new Error('expected an error');
}

describe('backoff', () => {
  it('grows exponentially, is capped, and never goes below the floor', () => {
    const p = { baseMs: 100, maxMs: 5_000, minMs: 10 };
    expect(backoffDelayMs(p, 0, () => 0.999)).toBe(99);
    expect(backoffDelayMs(p, 3, () => 0.999)).toBe(799);
    expect(backoffDelayMs(p, 40, () => 0.999)).toBe(4_995);
    expect(backoffDelayMs(p, 5, () => 0)).toBe(10);
  });
});

describe('subjects', () => {
  it('accepts taxonomy subjects and rejects the rest with a reason', () => {
    expect(checkSubject('root.solar.command.sentiment.set', 'root.solar', 'command')).toBeNull();
    expect(checkSubject('root.solar.telemetry.x', 'root.solar', 'command')).toMatch(/must start with/);
    expect(checkSubject('root.solar.command.a.b.c.d', 'root.solar', 'command')).toMatch(/depth/);
    expect(checkSubject('root.solar.command.*', 'root.solar', 'command')).toMatch(/token/);
    expect(checkSubject('root.solar.command.', 'root.solar', 'command')).not.toBeNull();
    expect(checkSubject('root.solar.command.sentiment', 'root.solar', 'command')).toMatch(/at least 2 tokens/);
    expect(checkSubject('root.solar.command.a.b.c', 'root.solar', 'command')).toBeNull();
    expect(checkSubject(42, 'root.solar', 'command')).toMatch(/string/);
  });
});

describe('intent input', () => {
  it('names the field at fault', () => {
    expect(fieldOf(() => parseIntentInput('x', limits))).toBe('body');
    expect(fieldOf(() => parseIntentInput({ subject: 'nope', payload: {} }, limits))).toBe('subject');
    expect(fieldOf(() => parseIntentInput({ subject: 'root.solar.command.a.b' }, limits))).toBe('payload');
    expect(
      fieldOf(() => parseIntentInput({ subject: 'root.solar.command.a.b', payload: 'x'.repeat(100) }, limits)),
    ).toBe('payload');
    expect(fieldOf(() => parseIntentInput({ subject: 'root.solar.command.a.b', payload: 1, extra: 1 }, limits))).toBe(
      'extra',
    );
  });

  it('accepts a valid submission', () => {
    const ok = parseIntentInput({ subject: 'root.solar.command.sentiment.set', payload: { v: 1 } }, limits);
    expect(ok.payloadBytes).toBe(7);
  });
});

describe('command message', () => {
  it('carries the DESIGN.md headers and a versioned body', () => {
    const row = buildCommandRow({
      correlationId: '01J0',
      subject: 'root.solar.command.a.b',
      payload: { v: 1 },
      origin: 'peerA',
      traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
      createdAtMs: 0,
      endorsements: [{ peerId: 'p1', signature: 's' }],
    });
    expect(row.headers[HEADER.correlationId]).toBe('01J0');
    expect(row.headers[HEADER.schemaVersion]).toBe('1');
    expect(row.headers[HEADER.origin]).toBe('peerA');
    expect(row.headers[HEADER.endorsers]).toBe('p1');
    expect(isTraceparent(row.headers[HEADER.traceparent])).toBe(true);
    const body = JSON.parse(new TextDecoder().decode(row.body));
    expect(body).toMatchObject({
      schemaVersion: 1,
      correlationId: '01J0',
      payload: { v: 1 },
      proposedAt: '1970-01-01T00:00:00.000Z',
    });
  });
});

describe('trace context', () => {
  const hex = (n: number): string => 'c'.repeat(n * 2);
  it('continues a valid parent trace and starts a new one otherwise', () => {
    const parent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    expect(childTraceparent(parent, hex)).toBe(`00-${'a'.repeat(32)}-${'c'.repeat(16)}-01`);
    expect(childTraceparent('garbage', hex)).toBe(`00-${'c'.repeat(32)}-${'c'.repeat(16)}-01`);
    expect(isTraceparent(`00-${'0'.repeat(32)}-${'b'.repeat(16)}-01`)).toBe(false);
  });
});

describe('units', () => {
  it('parses durations and sizes', () => {
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs(500)).toBe(500);
    expect(parseDurationMs('1500')).toBe(1_500);
    expect(parseDurationMs('soon')).toBeNull();
    expect(parseBytes('1GiB')).toBe(1 << 30);
    expect(parseBytes('512MB')).toBe(512 << 20);
    expect(parseBytes(-1)).toBe(-1);
    expect(parseBytes('lots')).toBeNull();
  });
});

describe('payload depth', () => {
  it('refuses a payload nested deeper than 32 levels with 400 naming payload, without exhausting the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(fieldOf(() => parseIntentInput({ subject: 'root.solar.command.a.b', payload: deep }, limits))).toBe(
      'payload',
    );
    let ok: unknown = 1;
    for (let i = 0; i < 32; i++) ok = { a: ok };
    expect(
      parseIntentInput({ subject: 'root.solar.command.a.b', payload: ok }, { ...limits, maxPayloadBytes: 4096 })
        .payload,
    ).toBe(ok);
  });
});
