/** Integration tests: real scripts against real Docker engines, Ray and git. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests/integration"],
  testTimeout: 30 * 60 * 1000,
};
