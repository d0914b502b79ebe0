import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Where Debian packages come from: the archive and its security suite. */
export interface Mirrors {
  debian: string;
  security: string;
}

/**
 * The Debian mirror the host's apt uses (deb822 or one-line sources), else deb.debian.org.
 * Builds that bootstrap a Debian root (the cloud guest, the image's base) use it, so they work
 * wherever the host's apt does.
 */
export function hostMirrors(): Mirrors {
  const files = ["/etc/apt/sources.list"];
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) {
    for (const f of readdirSync(dir)) {
      if (f.endsWith(".sources") || f.endsWith(".list")) files.push(join(dir, f));
    }
  }
  const uris = files
    .filter((f) => existsSync(f))
    .flatMap((f) =>
      [...readFileSync(f, "utf8").matchAll(/^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)/gm)].map(
        (m) => m[1] ?? "",
      ),
    );
  const debian = uris.find((u) => /\/debian\/?$/.test(u)) ?? "http://deb.debian.org/debian";
  const security =
    uris.find((u) => /\/debian-security\/?$/.test(u)) ?? "http://deb.debian.org/debian-security";
  return { debian: debian.replace(/\/$/, ""), security: security.replace(/\/$/, "") };
}
