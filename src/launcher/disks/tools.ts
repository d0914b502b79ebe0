import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export class ToolMissingError extends Error {
  override name = "ToolMissingError";
}

/**
 * Run a host tool and return its stdout; a missing binary becomes ToolMissingError, a
 * failure carries its stderr.
 */
export async function runTool(binary: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(binary, args, {
      timeout: 60_000,
      maxBuffer: 4 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") throw new ToolMissingError(`${binary} is not installed`);
    throw new Error(`${binary} ${args.join(" ")} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}
