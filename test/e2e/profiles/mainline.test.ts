/** Kernel profile `mainline`: every shipped scenario at seeds 1–3, outcome pinned (./outcomes.ts). */
import { describe, expect, it } from 'vitest';
import { BUGS, bugScenarioFor } from '../../../src/scenario/bugs.js';
import { profilesWith } from '../../../src/scenario/profiles.js';
import { OUTCOMES, pinOutcomes } from './outcomes.js';

describe('PROFILE.OUTCOMES: profile mainline on every shipped scenario', () => {
  pinOutcomes('mainline');
});

describe('PROFILE.MAINLINE_DEFECTS: mainline shows its known defects where a scenario reaches them', () => {
  it('the default scenario (VT-d) breaks HOST.RESP.PASID_IFF_REQUIRED at every seed', () => {
    for (const o of OUTCOMES.default!.mainline)
      expect(o.split(' ')).toContain('HOST.RESP.PASID_IFF_REQUIRED');
  });
  it('each bug switch of mainline is caught on its own scenario', () => {
    for (const b of BUGS.filter((x) => profilesWith(x.name).includes('mainline'))) {
      const file = bugScenarioFor(b, 'mainline');
      const ref = file === 'default' ? 'default' : file.replace(/^scenarios\/(.*)\.yaml$/, '$1');
      expect(OUTCOMES[ref]!.mainline[0].split(' '), b.name).toContain(b.rule);
    }
  });
});
