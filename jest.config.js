/** Unit tests: Pulumi mocks, no engine, no network. */
module.exports = {
  // Type checking is `npm run build` (tsc); tests only transpile, which keeps them fast.
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true }] },
  testEnvironment: "node",
  roots: ["<rootDir>/tests/unit"],
  testTimeout: 60000,
  // Jest's default is one worker less than the cores: on this project's 2-core machines, one
  // worker, so the suite ran on one core (186 s vs 108 s with both, docs/benchmarks.md, CI).
  maxWorkers: "100%",
};
