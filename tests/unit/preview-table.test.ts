// The engine preview test (tests/engine/preview.test.ts) expects fixed resource counts; they
// must be what the program registers, or the real preview would fail for a stale table.
import { program } from "../../stacks/program";
import { runProgram, stackConfig } from "./support/harness";

test.each(["dev", "prod"] as const)("the %s preview table matches the resources the program registers", async (stack) => {
  const run = await runProgram(stack, stackConfig(stack), program);
  const counts: Record<string, number> = {};
  for (const r of run.resources) if (r.type !== "pulumi:pulumi:Stack") counts[r.type] = (counts[r.type] ?? 0) + 1;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const src = require("fs").readFileSync(`${__dirname}/../engine/preview.test.ts`, "utf8") as string;
  const block = src.slice(src.indexOf(`  ${stack}: {`), src.indexOf("},", src.indexOf(`  ${stack}: {`)));
  const table = Object.fromEntries([...block.matchAll(/"([^"]+)": (\d+)/g)].map((m) => [m[1], Number(m[2])]));
  expect(table).toEqual(counts);
});
