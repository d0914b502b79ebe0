import { type ParseArgsConfig, parseArgs } from "node:util";
import { DEFAULT_CLUSTER } from "../../local/layout.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * parseArgs with the options every `local` subcommand shares (--name, --help) and strict
 * checking, so a typo is an error rather than silently ignored. Positionals are refused
 * unless `allowPositionals` is set.
 */
export function parseLocalArgs<O extends Options>(
  args: string[],
  options: O,
  allowPositionals = false,
) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals,
    options: {
      name: { type: "string", default: DEFAULT_CLUSTER },
      help: { type: "boolean", short: "h" },
      ...options,
    },
  });
}

/** `'…'` quoting for a POSIX shell, for lines meant to be eval'ed. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
