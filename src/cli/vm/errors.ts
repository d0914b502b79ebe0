/**
 * Exit codes and errors of kubectl-vm. Kept free of imports so `--help` and usage errors load
 * nothing else (client-node alone costs more than the 150 ms a command may take to answer).
 *
 * 0 done · 1 the operation failed (migration Failed, connection lost for good, server error,
 * VM in the wrong state, timed out) · 2 usage error · 3 VM not found · 4 not allowed (401/403)
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, forbidden: 4 } as const;

export class UsageError extends Error {}

/** An error with the exit code it maps to and a message meant for the user. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Pure: an HTTP status of a refusal → exit code. */
export function exitCodeFor(status: number): number {
  if (status === 404) return EXIT.notFound;
  if (status === 401 || status === 403) return EXIT.forbidden;
  return EXIT.failed;
}
