import { COMMAND_SPECS, COMMANDS, type CommandName, FLAGS } from "./args.js";

/**
 * Shell completion through kubectl's plugin protocol: kubectl runs `kubectl_complete-vm`
 * with the words after `kubectl vm` (the last one being completed, maybe empty) and reads
 * cobra's `__complete` answer: one candidate per line, then `:<directive>`.
 */
export const NO_FILE_COMPLETION = 4;

export interface CompletionSources {
  /** VM names in a namespace (undefined: the kubeconfig's). Errors mean "no candidates". */
  vms: (namespace: string | undefined) => Promise<string[]>;
  namespaces: () => Promise<string[]>;
  contexts: () => string[];
}

const VALUES: Record<string, (s: CompletionSources) => Promise<string[]> | string[]> = {
  output: () => ["json", "yaml", "wide"],
  namespace: (s) => s.namespaces(),
  context: (s) => s.contexts(),
};

function flagName(word: string): string | undefined {
  if (word.startsWith("--")) return word.slice(2).split("=")[0];
  if (/^-[a-zA-Z]$/.test(word)) {
    const short = word.slice(1);
    return Object.entries(FLAGS).find(([, f]) => f.short === short)?.[0];
  }
  return undefined;
}

const CONNECTION_FLAGS = new Set([
  "kubeconfig",
  "context",
  "server",
  "token",
  "insecure-skip-tls-verify",
  "as",
  "as-group",
]);

/** Pure: only the words that say how to reach the cluster, to list names with them. */
export function connectionWords(words: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? "";
    const flag = flagName(word);
    if (!flag) continue;
    const takesValue = FLAGS[flag]?.type === "string" && !word.includes("=");
    if (CONNECTION_FLAGS.has(flag)) out.push(...(takesValue ? [word, words[i + 1] ?? ""] : [word]));
    if (takesValue) i++;
  }
  return out;
}

/** Pure except for `sources`: the candidates for the last of `words`. */
export async function complete(words: string[], sources: CompletionSources): Promise<string[]> {
  const current = words.at(-1) ?? "";
  const before = words.slice(0, -1);
  const positionals: string[] = [];
  let namespace: string | undefined;
  for (let i = 0; i < before.length; i++) {
    const word = before[i] ?? "";
    const flag = flagName(word);
    if (flag) {
      const takesValue = FLAGS[flag]?.type === "string" && !word.includes("=");
      if (takesValue) {
        if (flag === "namespace") namespace = before[i + 1];
        i++;
      }
      continue;
    }
    positionals.push(word);
  }
  const previous = before.at(-1);
  const valueFor = previous ? flagName(previous) : undefined;
  const guard = async (f: () => Promise<string[]> | string[]) => {
    try {
      return await f();
    } catch {
      return [];
    }
  };
  if (valueFor && FLAGS[valueFor]?.type === "string" && !previous?.includes("=")) {
    const values = VALUES[valueFor];
    return values ? (await guard(() => values(sources))).filter((v) => v.startsWith(current)) : [];
  }
  const command = positionals[0] as CommandName | undefined;
  if (current.startsWith("-")) {
    const own = command && command in COMMAND_SPECS ? COMMAND_SPECS[command].flags : [];
    const global = Object.keys(FLAGS).filter((f) => !(f in flagsOfCommands()));
    return [...global, ...own].map((f) => `--${f}`).filter((f) => f.startsWith(current));
  }
  if (!command) return COMMANDS.filter((c) => c.startsWith(current));
  if (!(command in COMMAND_SPECS)) return [];
  if (COMMAND_SPECS[command].takesName && positionals.length === 1) {
    return (await guard(() => sources.vms(namespace))).filter((n) => n.startsWith(current));
  }
  return [];
}

function flagsOfCommands(): Record<string, true> {
  const out: Record<string, true> = {};
  for (const spec of Object.values(COMMAND_SPECS)) for (const f of spec.flags) out[f] = true;
  return out;
}

/** The cobra answer: candidates, then the directive line. */
export function completionOutput(candidates: string[]): string {
  return `${[...candidates, `:${NO_FILE_COMPLETION}`].join("\n")}\n`;
}
