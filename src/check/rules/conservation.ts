/** Conservation of page requests between the function and the IOMMU (hardware ref §1.6). */
import { defineRule, type RuleDef } from './rule.js';

export const CONSERVATION_RULES: readonly RuleDef[] = [
  defineRule({
    id: 'HOST.CONSERVATION',
    side: 'host',
    source: 'hardware ref §1.6',
    statement: 'Every page request sent reaches the IOMMU queue or is dropped there with accounting; nothing vanishes in transit.',
    mode: 'cheap',
    ftrace: false,
    // Needs the function's own page_request events next to the IOMMU's queue events.
    deviceOnly: true,
    on: [],
    check: (st, v) => ({
      onEvent() {},
      finish() {
        v.mark();
        for (let dev = 0; dev < st.maxDev; dev++) {
          const lost = st.sentBy[dev]! - st.arrivedBy[dev]!;
          if (lost !== 0) {
            v.violate(
              lost > 0
                ? `${lost} page request(s) or Stop Marker(s) of device ${dev} never reached the IOMMU nor were dropped there`
                : `${-lost} more arrivals than requests sent for device ${dev}`,
              false,
              { dev },
            );
          }
        }
      },
    }),
  }),
];
