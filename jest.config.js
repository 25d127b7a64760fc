/** Unit tests: Pulumi mocks, no engine, no network. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests/unit"],
  testTimeout: 60000,
};
