/**
 * The layering rules of docs/ARCHITECTURE.md, checked in CI (`npm run depcruise`). Violations that
 * predate a rule are listed in .dependency-cruiser-known-violations.json and shrink as the code is
 * reshaped; a new one fails the run.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Data flows one way: no module may import itself back through others.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'storage-is-a-leaf',
      severity: 'error',
      comment: 'Storage knows files and objects, not operations, queues, progress or HTTP.',
      from: { path: '^src/modules/storage/' },
      to: {
        path: [
          '^src/modules/(operations|progress|auth|admin|files|scanning)/',
          '^src/queue/',
          '^express$',
          '@nestjs/platform-express',
        ],
      },
    },
    {
      name: 'domain-modules-do-not-call-operations',
      severity: 'error',
      comment: 'Scanning, categories and duplicates are called by the processors; they never call back.',
      from: { path: '^src/modules/(scanning|categories|duplicates)/' },
      to: { path: ['^src/modules/(operations|progress)/', '^src/queue/'] },
    },
    {
      name: 'progress-is-transport-only',
      severity: 'error',
      comment: 'Progress imports nothing from Operations; ownership checks come through an interface.',
      from: { path: '^src/modules/progress/' },
      to: { path: '^src/modules/operations/' },
    },
    {
      name: 'common-knows-no-feature',
      severity: 'error',
      comment: 'Shared code (guards, filters, logging) depends on no feature module.',
      from: { path: '^src/common/' },
      to: { path: '^src/modules/' },
    },
    {
      name: 'bull-stays-in-queue-and-processors',
      severity: 'error',
      comment: 'A later queue change touches only queue/ and the processors.',
      from: {
        path: '^src/',
        pathNot: [
          '^src/queue/',
          '^src/modules/operations/processors/',
          '^src/modules/admin/',
          '^src/app\\.module\\.ts$',
        ],
      },
      to: { path: '^(bull|@nestjs/bull)$', dependencyTypes: ['npm'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: {
      dot: {
        collapsePattern: '^src/(modules/[^/]+|[^/]+)',
      },
    },
  },
};
