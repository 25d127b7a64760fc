export * from "./stackfile";
export * from "./stack";
