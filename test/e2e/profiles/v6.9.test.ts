/** Kernel profile `v6.9`: every shipped scenario at seeds 1–3, outcome pinned (./outcomes.ts). */
import { describe } from 'vitest';
import { pinOutcomes } from './outcomes.js';

describe('PROFILE.OUTCOMES: profile v6.9 on every shipped scenario', () => {
  pinOutcomes('v6.9');
});
