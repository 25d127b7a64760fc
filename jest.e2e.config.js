/** End-to-end: the real Pulumi engine against node containers. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests/e2e"],
  testTimeout: 60 * 60 * 1000,
};
