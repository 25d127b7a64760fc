/**
 * The resource graph every stack makes (type, name, parent, inputs, replacement options, direct
 * dependencies) against the graphs committed in tests/unit/data/resource-graph/. A deployed stack
 * sees any difference there: a changed trigger or parent replaces the resource (a remote command
 * re-runs, and its old self's delete runs). A change meant to change the graph rewrites the files
 * (`npm run resource-graph -- --write`), and the diff shows the reviewer what a deployed stack
 * will do. The preview counts (counts.json) are what `pulumi preview` plans for a new stack.
 */
import { COUNTS_FILE, GRAPH_STACKS, committedGraph, countsOf, graphDiff, stackGraph } from "../../tools/resource-graph";
import * as fs from "fs";

describe.each(GRAPH_STACKS)("the %s stack", (stack) => {
  test("makes the committed resource graph: every resource's type, name, parent, inputs and dependencies", async () => {
    const diff = graphDiff(committedGraph(stack), await stackGraph(stack));
    if (diff.length)
      throw new Error(
        `${diff.length} differences from tests/unit/data/resource-graph/${stack}.json (a deployed stack sees each one; ` +
          `if they are meant, run npm run resource-graph -- --write and explain them):\n${diff.slice(0, 60).join("\n")}`,
      );
  });

  test("the committed preview counts are the graph's, and every resource type is counted", () => {
    const counts = JSON.parse(fs.readFileSync(COUNTS_FILE, "utf8")) as Record<string, Record<string, number>>;
    expect(counts[stack]).toEqual(countsOf(committedGraph(stack)));
    expect(Object.values(counts[stack]).every((n) => n > 0)).toBe(true);
  });
});
