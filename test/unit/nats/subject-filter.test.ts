import { describe, expect, it } from 'vitest';
import { isSubjectSubset, subjectMatches } from '../../../src/nats/subject-filter.js';

describe('subject-filter', () => {
  it.each([
    ['a.b.c', 'a.>', true],
    ['a.>', 'a.>', true],
    ['a.*.c', 'a.>', true],
    ['a.*', 'a.*', true],
    ['a.b', 'a.*', true],
    ['a.>', 'a.*', false],
    ['a', 'a.>', false],
    ['a.*', 'a.b', false],
    ['>', 'a.>', false],
    ['a.b.c', 'a.*', false],
    ['root.solar.command.>', 'root.solar.command.>', true],
    ['root.solar.>', 'root.solar.command.>', false],
  ])('%s ⊆ %s is %s', (filter, pattern, want) => {
    expect(isSubjectSubset(filter, pattern)).toBe(want);
  });

  it('matches concrete subjects', () => {
    expect(subjectMatches('root.solar.misc', 'root.solar.>')).toBe(true);
    expect(subjectMatches('root.solar', 'root.solar.>')).toBe(false);
    expect(subjectMatches('x.y', '*.y')).toBe(true);
  });
});
