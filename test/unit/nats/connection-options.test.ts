import { describe, expect, it } from 'vitest';
import { NatsSchema } from '../../../src/config/schema.js';
import { buildConnectionOptions } from '../../../src/nats/connection-options.js';

const tuning = { connectTimeoutMs: 5_000, pingIntervalMs: 10_000 };

describe('buildConnectionOptions', () => {
  it('reconnects forever with the configured wait and jitter, without async traces', async () => {
    const o = await buildConnectionOptions(NatsSchema.parse({ reconnectWaitMs: '3s', reconnectJitterMs: 250 }), tuning);
    expect(o).toMatchObject({
      servers: ['nats://127.0.0.1:4222'],
      maxReconnectAttempts: -1,
      reconnectTimeWait: 3_000,
      reconnectJitter: 250,
      waitOnFirstConnect: false,
      noAsyncTraces: true,
      ignoreAuthErrorAbort: true,
      timeout: 5_000,
    });
    expect(o.tls).toBeUndefined();
    expect(o.authenticator).toBeUndefined();
  });

  it('passes user/pass and token, and enables TLS for tls:// URLs or TLS files', async () => {
    const up = await buildConnectionOptions(NatsSchema.parse({ user: 'u', pass: 'p' }), tuning);
    expect([up.user, up.pass, up.token]).toEqual(['u', 'p', undefined]);
    expect((await buildConnectionOptions(NatsSchema.parse({ token: 't' }), tuning)).token).toBe('t');
    expect((await buildConnectionOptions(NatsSchema.parse({ servers: ['tls://h:4222'] }), tuning)).tls).toEqual({});
    expect((await buildConnectionOptions(NatsSchema.parse({ tls: { caFile: '/ca.pem' } }), tuning)).tls).toEqual({
      caFile: '/ca.pem',
    });
  });

  it('rejects an unreadable creds file as CONFIG_INVALID naming the key', async () => {
    await expect(
      buildConnectionOptions(NatsSchema.parse({ credsFile: '/nonexistent.creds' }), tuning),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      field: 'nats.credsFile',
    });
  });
});
