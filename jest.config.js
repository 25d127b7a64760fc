/** Unit tests: Pulumi mocks, no engine, no network. */
module.exports = {
  // Type checking is `npm run build` (tsc); tests only transpile, which keeps them fast.
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true }] },
  testEnvironment: "node",
  roots: ["<rootDir>/tests/unit"],
  testTimeout: 60000,
};
