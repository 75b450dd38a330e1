// Found by chaos scenario F: when the stream check fails while the connection stays up (a
// JetStream timeout while a stream leader moves), publishing must not stay closed until the
// next reconnect. Here the check fails on permissions, the server's config is reloaded with
// SIGHUP (same connection, no reconnect), and the sidecar must become ready and commit.
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { waitFor } from '../../support/wait-for.js';

const users = (jsAllowed: boolean): string => `authorization {
  users: [
    { user: bridge, password: s3cret, permissions: {
        publish: { ${jsAllowed ? 'allow: [">"]' : 'allow: [">"], deny: ["$JS.API.>"]'} }
        subscribe: { allow: [">"] } } }
  ]
}`;

describe('stream check retried while connected', () => {
  it('opens publishing once the check succeeds, without waiting for a reconnect', async () => {
    const nats = await useNatsServer({ config: users(false) });
    const sidecar = new SidecarProcess({
      natsUrl: nats.url,
      env: { NET_SYNC_NATS_USER: 'bridge', NET_SYNC_NATS_PASS: 's3cret' },
    });
    await sidecar.start();
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
    await waitFor(() => sidecar.logTail(200).includes('could not check streams'), 'a failed stream check');
    expect((await sidecar.get('/readyz')).status).toBe(503);
    const accepted = await sidecar.post('/v1/intents', {
      subject: 'root.solar.command.sentiment.set',
      payload: { v: 1 },
    });
    expect(accepted.status).toBe(202);

    writeFileSync(nats.configPath, readFileSync(nats.configPath, 'utf8').replace(users(false), users(true)));
    nats.kill('SIGHUP');
    await waitFor(
      async () => (await sidecar.get('/readyz')).status === 200,
      'readyz after the config reload',
      20_000,
      50,
    );
    await waitFor(
      async () => (await sidecar.get(`/v1/intents/${accepted.json.correlationId}`)).json.state === 'committed',
      `${accepted.json.correlationId} committed`,
    );
    expect(sidecar.logTail(500)).not.toMatch(/"msg":"nats (disconnected|reconnected)"/);
  });
});
