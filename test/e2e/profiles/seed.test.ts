/** Kernel profile `seed`: every shipped scenario at seeds 1–3, outcome pinned (./outcomes.ts). */
import { describe } from 'vitest';
import { pinOutcomes } from './outcomes.js';

describe('PROFILE.OUTCOMES: profile seed on every shipped scenario', () => {
  pinOutcomes('seed');
});
