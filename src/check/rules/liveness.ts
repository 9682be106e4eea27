/** Liveness: what must have happened by the end of a run. */
import { H_COMPLETE, PRGI_COUNT } from '../state.js';
import { defineRule, type RuleDef } from './rule.js';

export const LIVENESS_RULES: readonly RuleDef[] = [
  defineRule({
    id: 'LIVENESS.ALL_ANSWERED',
    side: 'host',
    source: 'hardware ref §1.6 HOST.RESP.ONE_PER_GROUP (exactly one); issue 7',
    statement: 'By the end of the run every group whose L=1 reached the host is answered, unless dropped with accounting or PRI was reset/disabled.',
    mode: 'cheap',
    ftrace: true,
    on: [],
    check: (st, v) => ({
      onEvent() {},
      finish() {
        v.mark();
        const ns = st.maxDev * PRGI_COUNT;
        for (let s = 0; s < ns; s++) {
          if (st.hState[s] === H_COMPLETE && st.hExcused[s] === 0 && st.hDroppedLast[s] === 0 && st.hResp[s] === 0) {
            const dev = Math.floor(s / PRGI_COUNT);
            v.violate(`group of device ${dev} PRG index ${s % PRGI_COUNT} (L=1 at the host since ${st.hLastT[s]!} ns) never answered`, false, { dev, prgi: s % PRGI_COUNT });
          }
        }
      },
    }),
  }),
];
