/**
 * The core every layer shares and that imports nothing of the project: roles, ports, and the
 * Host / Environment / Connection types. Components, stacks and tools import it; it imports none of them.
 */
export * from "./roles";
export * from "./ports";
export * from "./host";
export * from "./names";
