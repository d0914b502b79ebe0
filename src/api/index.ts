export * from "./common.js";
export * from "./migration.js";
export * from "./quantity.js";
export * from "./virtualmachine.js";
export * from "./resources.js";
