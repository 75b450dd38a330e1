// Consumers as code through the CLI (docs/configuration.md#consumers), in process: `streams apply`
// creates the consumers of examples/seed-004.yaml after their streams, a second apply changes
// nothing, and `streams verify` exits 1 naming a consumer field changed behind its back.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type CliIo, runCli } from '../../../src/cli/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { useNatsServer } from '../../support/nats-fixture.js';
import { useConnector } from '../nats/helpers.js';

const SEED_004 = fileURLToPath(new URL('../../../examples/seed-004.yaml', import.meta.url));

async function run(argv: string[], natsUrl: string): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: () => true },
    env: { NET_SYNC_NATS_SERVERS: natsUrl },
    createLogger: () => silentLogger(),
  };
  return { code: await runCli([...argv, '--config', SEED_004], io), stdout };
}

describe('consumers as code through the CLI', () => {
  it('applies seed 004 idempotently, and verify names consumer drift', async () => {
    const nats = await useNatsServer();
    const first = await run(['streams', 'apply', '--json'], nats.url);
    expect(first.code, first.stdout).toBe(0);
    const applied = JSON.parse(first.stdout) as {
      consumers: Array<{ stream: string; consumer: string; outcome: string }>;
    };
    expect(applied.consumers.map((c) => `${c.stream}/${c.consumer}:${c.outcome}`)).toEqual([
      'AUTH/sfs:applied',
      'AUTH/notifications:applied',
      'COMPUTE/gateway:applied',
    ]);
    const second = await run(['streams', 'apply', '--json'], nats.url);
    expect(JSON.parse(second.stdout).consumers.every((c: { outcome: string }) => c.outcome === 'unchanged')).toBe(true);
    expect((await run(['streams', 'verify'], nats.url)).code).toBe(0);

    const connector = await useConnector([nats.url]);
    await connector.manager!.consumers.update('AUTH', 'sfs', { max_deliver: 1 });
    const verify = await run(['streams', 'verify', '--json'], nats.url);
    expect(verify.code).toBe(1);
    expect(JSON.parse(verify.stdout)).toMatchObject({
      ok: false,
      consumers: [
        { stream: 'AUTH', consumer: 'sfs', action: 'update', drift: [{ field: 'maxDeliver', want: 5, have: 1 }] },
      ],
    });
    const human = await run(['streams', 'verify'], nats.url);
    expect(human.stdout).toMatch(/sfs.*maxDeliver/);
  });
});
