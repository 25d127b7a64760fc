export * from "./network";
export * from "./security";
export * from "./machine";
export * from "./cloudinit";
export * from "./environment";
