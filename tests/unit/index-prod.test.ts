import { checkIndex } from "./support/index-check";

test("index.ts builds every layer of the prod stack and exports its outputs", async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  await checkIndex("prod", () => require("../../index"));
});
