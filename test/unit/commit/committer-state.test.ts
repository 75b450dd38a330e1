import { describe, expect, it } from 'vitest';
import { CommitterState } from '../../../src/commit/committer-state.js';
import { LeaseTerms } from '../../../src/core/lease-coverage.js';
import { ManualClock } from '../../support/manual-clock.js';

const terms = LeaseTerms.from({});

/** A started committer whose first round looked up, renewed the lease at `clock.now()`, and is sending. */
function sending(clock: ManualClock): CommitterState {
  const state = new CommitterState();
  state.started();
  state.leaseRenewed(terms.renewedAt(clock.now()));
  state.lookupStarted();
  state.lookupEnded('resolved');
  state.passEnded({ failed: false, leftInFlight: false });
  state.roundEnded();
  return state;
}

describe('CommitterState', () => {
  it('starts stopped with outcomes unknown; a started loop looks up before it lets appends claim', () => {
    const clock = new ManualClock();
    const state = new CommitterState();
    expect(state.snapshot).toMatchObject({ phase: 'stopped', outcomes: 'unknown', failures: 0, backingOff: false });
    expect(state.appendsMayClaim).toBe(false);
    state.started();
    expect(state.phase).toBe('round');
    expect(state.mustLookUp).toBe(true);
    expect(state.appendsMayClaim).toBe(false);
    state.leaseRenewed(terms.renewedAt(clock.now()));
    state.lookupStarted();
    expect(state.phase).toBe('looking-up');
    expect(state.appendsMayClaim, 'no claim on append during a lookup').toBe(false);
    state.lookupEnded('resolved');
    expect(state.snapshot).toMatchObject({ phase: 'round', outcomes: 'known' });
    expect(state.appendsMayClaim).toBe(true);
    state.passEnded({ failed: false, leftInFlight: false });
    state.roundEnded();
    expect(state.snapshot).toMatchObject({ phase: 'waiting', backingOff: false });
    expect(state.appendsMayClaim).toBe(true);
  });

  it('a promotion during a lookup leaves outcomes unknown for the next round', () => {
    const clock = new ManualClock();
    const state = sending(clock);
    state.outcomesMayBeUnknown();
    state.roundBegan();
    state.lookupStarted();
    state.outcomesMayBeUnknown(); // a takeover promoted a row to in-flight meanwhile
    state.lookupEnded('resolved');
    expect(state.mustLookUp).toBe(true);
    expect(state.appendsMayClaim).toBe(false);
  });

  it('a lease renewed before it ran out keeps outcomes known; a break in it makes them unknown', () => {
    const clock = new ManualClock();
    const state = sending(clock);
    clock.advance(terms.ttlMs - 1);
    state.roundBegan();
    state.leaseRenewed(terms.renewedAt(clock.now()));
    expect(state.mustLookUp).toBe(false);
    clock.advance(terms.ttlMs);
    // Exactly at the end of the last round's lease: another owner may have taken it.
    state.leaseRenewed(terms.renewedAt(clock.now()));
    expect(state.mustLookUp).toBe(true);
    expect(state.snapshot.lease.renewedAtMs).toBe(clock.now());
  });

  it('a failed lookup counts a failure and backs off; lease-lapsed leaves outcomes unknown without one', () => {
    const clock = new ManualClock();
    const state = sending(clock);
    state.outcomesMayBeUnknown();
    state.lookupStarted();
    state.lookupEnded('lease-lapsed');
    expect(state.snapshot).toMatchObject({ outcomes: 'unknown', failures: 0 });
    state.roundEnded();
    expect(state.snapshot.backingOff).toBe(false);
    state.roundBegan();
    state.lookupStarted();
    state.lookupEnded('lookup-failed');
    expect(state.snapshot).toMatchObject({ outcomes: 'unknown', failures: 1 });
    state.roundEnded();
    expect(state.snapshot.backingOff).toBe(true);
  });

  it('a thrown lookup is counted once, by the failed round', () => {
    const state = sending(new ManualClock());
    state.roundBegan();
    state.lookupStarted();
    state.lookupEnded('thrown');
    state.roundFailed();
    expect(state.snapshot).toMatchObject({ phase: 'waiting', outcomes: 'unknown', failures: 1, backingOff: true });
  });

  it('a retryable pass failure backs off until a pass goes through; backing off, appends claim nothing', () => {
    const state = sending(new ManualClock());
    state.roundBegan();
    state.passEnded({ failed: true, leftInFlight: false });
    expect(state.snapshot).toMatchObject({ outcomes: 'unknown', failures: 1 });
    state.roundEnded();
    expect(state.snapshot.backingOff).toBe(true);
    state.roundBegan();
    state.passEnded({ failed: true, leftInFlight: false });
    state.roundEnded();
    expect(state.failures).toBe(2);
    // The connection is back: the lookup resolves, the pass goes through.
    state.roundBegan();
    state.lookupStarted();
    state.lookupEnded('resolved');
    expect(state.appendsMayClaim, 'still backing off until the round ends').toBe(false);
    state.passEnded({ failed: false, leftInFlight: false });
    state.roundEnded();
    expect(state.snapshot).toMatchObject({ failures: 0, backingOff: false, outcomes: 'known' });
    expect(state.appendsMayClaim).toBe(true);
  });

  it('rows a pass left in-flight (a lapsed lease, a stale shared ID) go to a lookup, with no failure', () => {
    const state = sending(new ManualClock());
    state.roundBegan();
    state.passEnded({ failed: false, leftInFlight: true });
    state.roundEnded();
    expect(state.snapshot).toMatchObject({ outcomes: 'unknown', failures: 0, backingOff: false });
  });

  it('a wake while busy ends the next wait at once; while backing off only a forced wake counts', () => {
    const state = sending(new ManualClock());
    expect(state.woken(false)).toBe(true);
    expect(state.takeWake()).toBe(true);
    expect(state.takeWake(), 'a wake is spent once').toBe(false);
    state.roundBegan();
    state.passEnded({ failed: true, leftInFlight: false });
    state.roundEnded();
    expect(state.woken(false), 'new rows do not cut a backoff short').toBe(false);
    expect(state.takeWake()).toBe(false);
    expect(state.woken(true), 'a reconnect does').toBe(true);
    state.waitEnded();
    expect(state.takeWake(), 'a wake during the wait is spent with it').toBe(false);
  });

  it('once stopped, only start leaves it: a round ending after the stop lets appends claim nothing', () => {
    const clock = new ManualClock();
    const state = sending(clock);
    state.roundBegan();
    state.stopped();
    state.passEnded({ failed: false, leftInFlight: false });
    state.roundEnded();
    expect(state.snapshot).toMatchObject({ phase: 'stopped', outcomes: 'unknown' });
    expect(state.appendsMayClaim).toBe(false);
    state.started();
    expect(state.snapshot).toMatchObject({ phase: 'round', outcomes: 'unknown' });
  });
});
