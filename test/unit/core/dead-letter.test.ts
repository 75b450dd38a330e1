import { describe, expect, it } from 'vitest';
import { buildCommandRow } from '../../../src/core/command-message.js';
import {
  buildDeadLetterRow,
  DEAD_LETTER_MAX_EMBEDDED_BYTES,
  type DeadLetterBody,
} from '../../../src/core/dead-letter.js';
import type { NewOutboxRow, OutboxRow } from '../../../src/core/intent.js';

const TP = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;

function stored(row: NewOutboxRow, over: Partial<OutboxRow> = {}): OutboxRow {
  return {
    ...row,
    seq: 7,
    updatedAtMs: row.createdAtMs,
    attempts: 2,
    firstAttemptAtMs: 1,
    lastAttemptAtMs: 2,
    lastError: null,
    stream: null,
    streamSeq: null,
    committedAtMs: null,
    reason: null,
    ...over,
  };
}

const command = (payload: unknown): OutboxRow =>
  stored(
    buildCommandRow({
      correlationId: '01JDEAD',
      subject: 'root.solar.command.sentiment.set',
      payload,
      origin: 'peerA',
      traceparent: TP,
      createdAtMs: 1_000,
      soleEndorser: true,
    }),
  );
const bodyOf = (row: NewOutboxRow): DeadLetterBody => JSON.parse(new TextDecoder().decode(row.body)) as DeadLetterBody;

describe('dead-letter notice', () => {
  it('describes the refused message under <prefix>.deadletter.<kind>, own ID, the dead one as correlation', () => {
    const notice = buildDeadLetterRow(command({ v: 1 }), 'NATS_NO_STREAM: no stream', 5_000, 'root.solar')!;
    expect(notice).toMatchObject({
      correlationId: 'dl-01JDEAD',
      subject: 'root.solar.deadletter.command',
      kind: 'command',
      state: 'pending-commit',
      createdAtMs: 5_000,
    });
    expect(notice.headers).toEqual({
      'Net-Sync-Correlation-Id': '01JDEAD',
      'Net-Sync-Schema-Version': '1',
      'Net-Sync-Kind': 'dead-letter',
      'Net-Sync-Schema': 'dead-letter.v1.json',
      'Net-Sync-Origin': 'peerA',
      traceparent: TP,
    });
    const body = bodyOf(notice);
    expect(body).toMatchObject({
      schemaVersion: 1,
      correlationId: '01JDEAD',
      subject: 'root.solar.command.sentiment.set',
      kind: 'command',
      reason: 'NATS_NO_STREAM: no stream',
      createdAt: new Date(1_000).toISOString(),
      deadAt: new Date(5_000).toISOString(),
      attempts: 2,
    });
    expect(body.message.headers['Net-Sync-Endorsers']).toBe('peerA');
    expect(body.message.body).toMatchObject({ correlationId: '01JDEAD', payload: { v: 1 } });
  });

  it('describes, without embedding, a body too large or not JSON', () => {
    const big = command({ pad: 'x'.repeat(DEAD_LETTER_MAX_EMBEDDED_BYTES) });
    const bigBody = bodyOf(buildDeadLetterRow(big, 'NATS_PAYLOAD_TOO_LARGE: max', 5_000, 'root.solar')!);
    expect(bigBody.messageBytes).toBe(big.body.length);
    expect(bigBody.message.body).toBeUndefined();
    const refusedForSize = bodyOf(
      buildDeadLetterRow(
        command({ pad: 'x'.repeat(5_000) }),
        'NATS_PAYLOAD_TOO_LARGE: message exceeds the server max_payload',
        5_000,
        'root.solar',
      )!,
    );
    expect(refusedForSize.message.body).toBeUndefined();
    const binary = { ...command(1), body: new Uint8Array([0xff, 0xfe]) };
    expect(bodyOf(buildDeadLetterRow(binary, 'x', 5_000, 'root.solar')!).message).toEqual({ headers: binary.headers });
  });

  it('never notices a notice', () => {
    const notice = buildDeadLetterRow(command(1), 'x', 5_000, 'root.solar')!;
    expect(buildDeadLetterRow(stored(notice), 'NATS_NO_STREAM: no stream', 6_000, 'root.solar')).toBeNull();
  });
});
