export * from "./promotion";
