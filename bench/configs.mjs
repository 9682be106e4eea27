// The pipeline configurations of issue 8, added to run.mjs's hold rows (one child process each).
// pipeline.mjs args: <config> <page requests> <check> <trace> <handler> [page requests at which to
// sample peak RSS as well].
export default [
  { name: 'pipeline-cheap', args: ['pipeline.mjs', 'pipeline-cheap', '1e7', 'cheap', 'none', 'sva'] },
  { name: 'pipeline-full', args: ['pipeline.mjs', 'pipeline-full', '1e7', 'full', 'columnar', 'sva'] },
  { name: 'iommufd', args: ['pipeline.mjs', 'iommufd', '1e7', 'cheap', 'none', 'iommufd'] },
  { name: 'long', args: ['pipeline.mjs', 'long', '1e8', 'cheap', 'none', 'sva', '1e7'] },
  { name: 'check-offline', args: ['check-offline.mjs', '1e9'] },
  { name: 'fit-offline', args: ['fit-offline.mjs', '1e9'] },
];
