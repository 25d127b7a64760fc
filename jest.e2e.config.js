/** End-to-end: the real Pulumi engine against node containers. */
module.exports = {
  // Type checking is `npm run build` (tsc); tests only transpile, which keeps them fast.
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true }] },
  testEnvironment: "node",
  roots: ["<rootDir>/tests/e2e"],
  testTimeout: 60 * 60 * 1000,
};
