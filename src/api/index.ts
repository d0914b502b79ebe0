export * from "./common.js";
export * from "./launcher.js";
export * from "./launcher-migration.js";
export * from "./migration.js";
export * from "./quantity.js";
export * from "./resources.js";
export * from "./virtualmachine.js";
