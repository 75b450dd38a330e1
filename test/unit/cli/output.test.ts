import { describe, expect, it } from 'vitest';
import { Output } from '../../../src/cli/output.js';

function sinks(tty: boolean) {
  const text = { out: '', err: '' };
  const stdout = { write: (s: string) => (text.out += s), isTTY: tty };
  const stderr = { write: (s: string) => (text.err += s) };
  return { text, stdout, stderr };
}

describe('Output', () => {
  it('prints plain aligned tables off a terminal', () => {
    const s = sinks(false);
    new Output({ ...s, json: false }).table(
      ['STREAM', 'ACTION'],
      [
        ['COMMANDS', 'create'],
        ['TELEMETRY', 'none'],
      ],
    );
    expect(s.text.out).toBe('STREAM     ACTION\nCOMMANDS   create\nTELEMETRY  none\n');
  });

  it('draws boxed tables on a terminal', () => {
    const s = sinks(true);
    new Output({ ...s, json: false }).table(['A'], [['x']]);
    expect(s.text.out).toMatch(/┌/);
  });

  it('prints exactly one JSON document under --json and keeps stdout clean of text', () => {
    const s = sinks(false);
    const out = new Output({ ...s, json: true });
    out.text('progress');
    out.result({ ok: true }, () => out.text('human'));
    expect(JSON.parse(s.text.out)).toEqual({ ok: true });
    expect(s.text.err).toBe('progress\n');
    expect(() => out.document({})).toThrow(/one document/);
  });

  it('reports errors on stderr, and as a JSON error under --json', () => {
    const s = sinks(false);
    new Output({ ...s, json: true }).error('NATS_TIMEOUT', 'no answer');
    expect(s.text.err).toBe('net-sync: no answer\n');
    expect(JSON.parse(s.text.out)).toEqual({ error: { code: 'NATS_TIMEOUT', message: 'no answer' } });
  });
});
