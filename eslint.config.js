// ESLint flat config: TypeScript-aware recommended rules for the Pulumi program, tools and tests.
const js = require("@eslint/js");
const tseslint = require("typescript-eslint");

module.exports = tseslint.config(
  { ignores: ["node_modules/", "bin/", "dist/", "workloads/", ".pulumi/", "coverage/", "**/*.js", "!eslint.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Pulumi resources are often created for their side effects only.
      "no-new": "off",
    },
  },
  // Imports point one way: components/ (core at the bottom) never import the program's wiring
  // (stacks/), the tools or the tests; tools/ never import the tests.
  {
    files: ["components/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^(\\.\\./)+(stacks|tools|tests)(/|$)",
              message:
                "components/ must not import stacks/, tools/ or tests/: take the value as an argument (shared types live in components/core).",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["components/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^\\.\\./",
              message: "components/core imports nothing of the project outside components/core (every layer imports it).",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["tools/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [{ regex: "^(\\.\\./)+tests(/|$)", message: "tools/ must not import tests/ (tests import tools, not the other way)." }],
        },
      ],
    },
  },
  {
    files: ["eslint.config.js", "jest*.config.js"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", module: "writable" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
