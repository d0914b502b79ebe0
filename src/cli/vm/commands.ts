/**
 * Everything a command runs once its arguments are parsed: one module, so the single-file
 * build can keep it (and client-node, ws, yaml with it) out of the start-up path.
 */
export { runAction, runGuestAction } from "./actions.js";
export { runConsole } from "./console.js";
export { runMigrate, runMigrateCancel } from "./migrate.js";
export { listNamespaces, listVmNames } from "./names.js";
export { runPortForward, runSsh } from "./portforward.js";
export { runList, runStatus } from "./status.js";
export { runUi } from "./ui.js";
export { runVnc } from "./vnc.js";
