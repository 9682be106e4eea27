// The rows of `npm run bench` after run.mjs's hold rows (one child process each).
// pipeline.mjs args: <config> <page requests> <check> <trace> <handler> [page requests at which to
// sample peak RSS as well]. explore.mjs args: <threads> <schedules>.
// The default set fits in 5 minutes on the 2-core reference machine: `long` runs 3e7 page requests
// (RSS sampled at 1e7 too, to show it is flat); `node bench/run.mjs long-1e8` runs the 1e8 row.
export default [
  { name: 'pipeline-cheap', args: ['pipeline.mjs', 'pipeline-cheap', '1e7', 'cheap', 'none', 'sva'] },
  { name: 'pipeline-full', args: ['pipeline.mjs', 'pipeline-full', '1e7', 'full', 'columnar', 'sva'] },
  { name: 'iommufd', args: ['pipeline.mjs', 'iommufd', '5e6', 'cheap', 'none', 'iommufd'] },
  { name: 'long', args: ['pipeline.mjs', 'long', '3e7', 'cheap', 'none', 'sva', '1e7'] },
  { name: 'check-offline', args: ['check-offline.mjs', '1e9'] },
  { name: 'fit-offline', args: ['fit-offline.mjs', '1e9'] },
  { name: 'explore-j1', args: ['explore.mjs', '1', '40'] },
  { name: 'explore-j2', args: ['explore.mjs', '2', '40'] },
];

/** Rows run only when named by prefix. */
export const optional = [
  { name: 'long-1e8', args: ['pipeline.mjs', 'long-1e8', '1e8', 'cheap', 'none', 'sva', '1e7'] },
  // `iopf fit` of ftrace text (what a PRI machine gives); its 1 GB input takes minutes to generate.
  { name: 'fit-offline-ftrace', args: ['fit-offline.mjs', '1e9', 'ftrace'] },
];

/** `--quick`: the engine and the cheap pipeline at a smaller size (≤ 60 s). */
export const quickConfigs = [
  { name: 'hold-1e4', args: ['hold.mjs', '10000', '5000000'] },
  { name: 'pipeline-cheap-1e6', args: ['pipeline.mjs', 'pipeline-cheap-1e6', '1e6', 'cheap', 'none', 'sva'] },
];
