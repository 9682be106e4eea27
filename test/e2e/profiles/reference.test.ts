/** Kernel profile `reference`: every shipped scenario at seeds 1–3, outcome pinned (./outcomes.ts). */
import { describe, expect, it } from 'vitest';
import { LIVENESS_SCENARIOS, OUTCOMES, pinOutcomes } from './outcomes.js';

describe('PROFILE.OUTCOMES: profile reference on every shipped scenario', () => {
  pinOutcomes('reference');
});

describe('PROFILE.REFERENCE_CLEAN: the reference profile is the contract', () => {
  it('clean on every shipped scenario at seeds 1–3, except those that show a liveness hole', () => {
    for (const [name, byProfile] of Object.entries(OUTCOMES)) {
      const want = LIVENESS_SCENARIOS.includes(name) ? '1 LIVENESS.ALL_ANSWERED' : '0';
      expect(byProfile.reference, name).toEqual([want, want, want]);
    }
  });
});
