/** The real Pulumi engine: `pulumi preview` of each stack (needs scripts/install-pulumi.sh). */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests/engine"],
  testTimeout: 30 * 60 * 1000,
};
