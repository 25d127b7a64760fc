// pulumi-command sends a resource's stdin to its delete too; a delete that exits without reading
// it failed the e2e's destroy with `EOF: running "…"` (tests/integration/ssh-stdin.test.ts). Every
// command of a resource with stdin drains it before it exits, in every environment.
import { drainingStdin } from "../../components/remote";
import { program } from "../../stacks/program";
import { RunResult, localConfig, runProgram, stackConfig } from "./support/harness";

const CMD = "command:remote:Command";
const WRAPPED = /^\(\n[\s\S]*\n\)\nrayswarm_rc=\$\?; cat >\/dev\/null; exit \$rayswarm_rc$/;

test("drainingStdin keeps the command's status and lets a trailing comment or heredoc end on its own line", () => {
  expect(drainingStdin("rm -f /x # gone")).toBe("(\nrm -f /x # gone\n)\nrayswarm_rc=$?; cat >/dev/null; exit $rayswarm_rc");
});

describe.each([
  ["local", localConfig()],
  ["dev", stackConfig("dev")],
])("the %s stack", (stack, config) => {
  let run: RunResult;
  beforeAll(async () => {
    run = await runProgram(stack, config, program);
  });

  test("every command of a resource with stdin drains it (create, update, delete); the others are as written", () => {
    const cmds = run.ofType(CMD);
    const withStdin = cmds.filter((c) => c.inputs?.stdin !== undefined); // a secret stdin is a wrapped value here
    expect(withStdin.length).toBeGreaterThan(10);
    for (const c of withStdin)
      for (const k of ["create", "update", "delete"] as const) {
        const v = c.inputs?.[k];
        if (v !== undefined) expect({ name: c.name, [k]: v }).toEqual({ name: c.name, [k]: expect.stringMatching(WRAPPED) });
      }
    for (const c of cmds.filter((x) => !withStdin.includes(x)))
      for (const k of ["create", "update", "delete"] as const) expect(String(c.inputs?.[k] ?? "")).not.toContain("rayswarm_rc");
    // the step that failed: a monitoring target's delete on the orchestration machine
    const target = withStdin.find((c) => /^monitoring-target-/.test(c.name));
    expect(String(target?.inputs?.delete)).toMatch(/^\(\nif \[ "\$\(id -u\)" = 0 \]; then rm -f \/etc\/prometheus\/targets\//);
  });
});
