export * from "./stackfile";
export * from "./stack";
export * from "./images";
