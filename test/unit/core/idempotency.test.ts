import { describe, expect, it } from 'vitest';
import { buildCommandRow } from '../../../src/core/command-message.js';
import { ulid } from '../../../src/core/envelope-fields.js';
import { assertSameIntent, checkIdempotencyKey, keyedCorrelationId } from '../../../src/core/idempotency.js';

describe('idempotency keys', () => {
  it('accepts 1-255 visible ASCII characters, refusing others naming idempotency-key', () => {
    expect(checkIdempotencyKey('order-42/retry:1')).toBe('order-42/retry:1');
    for (const bad of ['', 'a b', 'é', 'x'.repeat(256), ['a'], undefined]) {
      expect(() => checkIdempotencyKey(bad), JSON.stringify(bad)).toThrow(/idempotency-key/);
    }
  });

  it('derives one ULID-shaped correlation ID per key, the same on every node', () => {
    const a = keyedCorrelationId('order-42');
    expect(ulid.safeParse(a).success).toBe(true);
    expect(a).toBe(keyedCorrelationId('order-42'));
    expect(a).not.toBe(keyedCorrelationId('order-43'));
    expect(a.startsWith('0')).toBe(true);
    const ids = new Set(Array.from({ length: 10_000 }, (_, i) => keyedCorrelationId(`k${i}`)));
    expect(ids.size).toBe(10_000);
  });

  it('tells the same intent from another under one key (422 naming idempotency-key)', () => {
    const row = buildCommandRow({
      correlationId: keyedCorrelationId('k'),
      subject: 'root.solar.command.a.b',
      payload: { x: 1, y: [2] },
      origin: 'p',
      traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
      createdAtMs: 0,
    });
    expect(() => assertSameIntent(row.body, 'root.solar.command.a.b', { y: [2], x: 1 })).not.toThrow();
    for (const [subject, payload] of [
      ['root.solar.command.a.c', { x: 1, y: [2] }],
      ['root.solar.command.a.b', { x: 2, y: [2] }],
    ] as const) {
      expect(() => assertSameIntent(row.body, subject, payload)).toThrow(
        expect.objectContaining({ code: 'IDEMPOTENCY_CONFLICT', field: 'idempotency-key' }),
      );
    }
  });
});
