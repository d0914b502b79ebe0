import { readFileSync } from "node:fs";

/**
 * The product's version: package.json's, which the image carries beside dist/ (two levels up
 * from both src/util and dist/util). "unknown" rather than a crash if it is missing.
 */
export function productVersion(): string {
  try {
    const url = new URL("../../package.json", import.meta.url);
    const pkg = JSON.parse(readFileSync(url, "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}
