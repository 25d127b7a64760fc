// The mock runner lives in tools/ (npm run critical-path uses it too).
export * from "../../../tools/mock-run";
