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
  {
    files: ["eslint.config.js", "jest*.config.js"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", module: "writable" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
