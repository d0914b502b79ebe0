import { GROUP, VERSION } from "../../api/index.js";
import { paths } from "../../kube/client.js";
import { type ConnectionArgs, parseCommand } from "./args.js";
import { connectionWords } from "./complete.js";
import { session } from "./kube.js";

/** The connection flags already on the line being completed (--kubeconfig, --context, ...). */
function connection(words: string[]): ConnectionArgs {
  try {
    const parsed = parseCommand(["list", ...connectionWords(words.slice(0, -1))]);
    return parsed.command === "list" ? parsed : {};
  } catch {
    return {};
  }
}

async function names(conn: ConnectionArgs, path: (ns: string) => string): Promise<string[]> {
  const s = session({ ...conn, requestTimeoutMs: 1500 });
  try {
    const list = await s.client.list<{ metadata: { name: string } }>(path(s.namespace));
    return list.items.map((o) => o.metadata.name).sort();
  } finally {
    s.client.close();
  }
}

export function listVmNames(words: string[], namespace?: string): Promise<string[]> {
  return names({ ...connection(words), ...(namespace ? { namespace } : {}) }, (ns) =>
    paths.custom(GROUP, VERSION, "virtualmachines", ns),
  );
}

export function listNamespaces(words: string[]): Promise<string[]> {
  return names(connection(words), () => "/api/v1/namespaces");
}
