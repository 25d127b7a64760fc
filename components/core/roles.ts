/** The roles a machine can play: the vocabulary every layer shares (config, environments, components). */
export const ROLES = ["orchestration", "ray-head", "ray-worker", "swarm-manager", "swarm-worker"] as const;
export type Role = (typeof ROLES)[number];
