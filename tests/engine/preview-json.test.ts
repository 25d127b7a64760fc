/** How planned steps of `pulumi preview --json` are counted per type (no engine needed). */
import { countPlannedTypes, urnType } from "./engine";

describe("urnType", () => {
  it("takes the last element of a nested component's type chain", () => {
    expect(
      urnType(
        "urn:pulumi:dev::rayswarm::rayswarm:platform:Platform$rayswarm:openstack:Machine$openstack:compute/instance:Instance::dev-bastion",
      ),
    ).toBe("openstack:compute/instance:Instance");
  });

  it("handles top-level resources and the stack", () => {
    expect(urnType("urn:pulumi:dev::rayswarm::tls:index/privateKey:PrivateKey::dev-ssh")).toBe("tls:index/privateKey:PrivateKey");
    expect(urnType("urn:pulumi:dev::rayswarm::pulumi:pulumi:Stack::rayswarm-dev")).toBe("pulumi:pulumi:Stack");
  });
});

describe("countPlannedTypes", () => {
  it("counts the program's resources and leaves out providers, the stack and deletions", () => {
    const steps = [
      { op: "create", urn: "urn:pulumi:dev::rayswarm::pulumi:pulumi:Stack::rayswarm-dev" },
      { op: "create", urn: "urn:pulumi:dev::rayswarm::pulumi:providers:openstack::default_3_15_2" },
      { op: "create", urn: "urn:pulumi:dev::rayswarm::rayswarm:platform:Platform::dev" },
      { op: "create", urn: "urn:pulumi:dev::rayswarm::rayswarm:platform:Platform$command:remote:Command::dev-a" },
      { op: "same", urn: "urn:pulumi:dev::rayswarm::rayswarm:platform:Platform$command:remote:Command::dev-b" },
      { op: "delete", urn: "urn:pulumi:dev::rayswarm::rayswarm:platform:Platform$command:remote:Command::dev-old" },
    ];
    expect(countPlannedTypes({ steps })).toEqual({ "command:remote:Command": 2, "rayswarm:platform:Platform": 1 });
  });

  it("returns no counts for a preview without steps", () => {
    expect(countPlannedTypes({})).toEqual({});
  });
});
