export * from "./config";
export * from "./files";
export * from "./render";
export * from "./stackfile";
export * from "./monitoring";
