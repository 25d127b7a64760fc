/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: true }] },
  testTimeout: 120000,
  // child processes and sockets are closed in afterAll; this only guards against a stray keep-alive socket
  forceExit: true,
};
