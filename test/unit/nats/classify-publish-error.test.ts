import { describe, expect, it } from 'vitest';
import { classifyNoResponders, classifyPublishError } from '../../../src/nats/classify-publish-error.js';

// Shapes copied from what nats.js 2.29 threw against nats-server 2.9.10.
const natsError = (code: string, message = code, api_error?: object): Error =>
  Object.assign(new Error(message), { name: 'NatsError', code, api_error });

describe('classifyPublishError', () => {
  it.each([
    ['TIMEOUT', natsError('TIMEOUT'), { retryable: true, outcomeUnknown: true, code: 'NATS_TIMEOUT' }],
    [
      'permission',
      natsError('PERMISSIONS_VIOLATION', `'Permissions Violation for Publish to "secret.x"'`),
      { retryable: false, outcomeUnknown: false, code: 'NATS_PERMISSION_DENIED' },
    ],
    ['max_payload', natsError('MAX_PAYLOAD_EXCEEDED'), { retryable: false, code: 'NATS_PAYLOAD_TOO_LARGE' }],
    [
      '10054',
      natsError('400', 'message size exceeds maximum allowed', {
        code: 400,
        err_code: 10054,
        description: 'message size exceeds maximum allowed',
      }),
      { retryable: false, code: 'NATS_PAYLOAD_TOO_LARGE' },
    ],
    [
      '10060',
      natsError('400', 'expected stream does not match', {
        code: 400,
        err_code: 10060,
        description: 'expected stream does not match',
      }),
      { retryable: false, code: 'NATS_STREAM_CONFLICT' },
    ],
    [
      'discard new',
      natsError('503', '503', { code: 503, err_code: 10077, description: 'maximum messages exceeded' }),
      { retryable: true, outcomeUnknown: false, code: 'NATS_UNKNOWN' },
    ],
    ['closed', natsError('CONNECTION_CLOSED'), { retryable: true, outcomeUnknown: true, code: 'NATS_DISCONNECTED' }],
    ['bad subject', natsError('BAD_SUBJECT'), { retryable: false, code: 'INPUT_INVALID' }],
    ['other', new TypeError('boom'), { retryable: true, outcomeUnknown: true, code: 'NATS_UNKNOWN' }],
    ['not an error', 'weird', { retryable: true, code: 'NATS_UNKNOWN' }],
  ])('%s', (_name, err, want) => {
    expect(classifyPublishError(err)).toMatchObject({ kind: 'failed', ...want });
  });

  it('keeps the server description in the reason', () => {
    const r = classifyPublishError(
      natsError('400', 'x', { code: 400, err_code: 10054, description: 'message size exceeds maximum allowed' }),
    );
    expect(r !== 'no-responders' && r.reason).toBe(
      'JetStream refused the message: message size exceeds maximum allowed (err_code 10054)',
    );
  });

  it('defers a bare 503 to the stream lookup', () => {
    expect(classifyPublishError(natsError('503'))).toBe('no-responders');
    expect(classifyNoResponders('a.b', false)).toMatchObject({ retryable: false, code: 'NATS_NO_STREAM' });
    expect(classifyNoResponders('a.b', true)).toMatchObject({
      retryable: true,
      outcomeUnknown: false,
      code: 'NATS_NO_RESPONDERS',
    });
    expect(classifyNoResponders('a.b', undefined)).toMatchObject({ retryable: true, code: 'NATS_NO_RESPONDERS' });
  });
});
