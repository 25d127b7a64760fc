/**
 * The project's configuration keys live in stacks/config/keys.ts (one table, from which the
 * reader, Pulumi.yaml's `config:` block and the README's config reference are derived); the
 * roles in components/core/roles.ts. Re-exported here for the modules that import them from here.
 */
export { ROLES, Role } from "../components/core/roles";
export { DEPLOY_MODES, DeployMode, ENVIRONMENTS, EnvironmentKind, KEYS, KeyName, KeySpec, PROJECT, defaultOf } from "./config/keys";
