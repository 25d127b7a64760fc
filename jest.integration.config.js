/** Integration tests: real scripts against real Docker engines, Ray and git. */
module.exports = {
  // Type checking is `npm run build` (tsc); tests only transpile, which keeps them fast.
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true }] },
  testEnvironment: "node",
  roots: ["<rootDir>/tests/integration"],
  testTimeout: 30 * 60 * 1000,
};
