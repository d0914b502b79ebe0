import {
  migrationSourceName,
  migrationTargetName,
  type SourceTls,
  type TargetTls,
} from "../../api/index.js";
import { type CertificateAuthority, issueCertificate, type PemPair } from "../../util/pki.js";

/** Certificates outlive the migration's own deadline by this much, and no more. */
export const MIGRATION_CERT_MARGIN_MS = 10 * 60 * 1000;

/**
 * One migration's TLS material, issued by the operator CA for exactly two identities named
 * after the migration's uid: the target serves `target.<uid>.migration.kubevisor.io` and
 * admits only the client `CN=source.<uid>.migration.kubevisor.io`.
 *
 * Why the operator CA with per-migration names rather than a CA per migration: the
 * reconciler may be restarted (or another replica take over) between asking the target to
 * listen and asking the source to send. A throw-away CA would die with the process and the
 * target would then trust nothing the new one can issue; with the operator CA any replica
 * issues the same identities again. The binding to one migration is in the names, which the
 * target checks exactly (QEMU's tls-authz on the DN) and the source checks as the TLS host
 * name; no other certificate the operator signs lives under MIGRATION_TLS_DOMAIN.
 */
export async function issueMigrationTls(
  ca: PemPair | CertificateAuthority,
  migrationUid: string,
  validForMs: number,
  /**
   * The operator's CA bundle. Both sides trust all of it: during a CA rotation the listen
   * and the send may be signed by different CAs (a promotion between them).
   */
  bundlePem: string = ca.certPem,
): Promise<{ target: TargetTls; source: SourceTls }> {
  const caCertPem = bundlePem;
  const targetName = migrationTargetName(migrationUid);
  const sourceName = migrationSourceName(migrationUid);
  const lifetime = validForMs + MIGRATION_CERT_MARGIN_MS;
  const [server, client] = await Promise.all([
    issueCertificate(ca, {
      commonName: targetName,
      dnsNames: [targetName],
      usage: "server",
      validForMs: lifetime,
    }),
    issueCertificate(ca, { commonName: sourceName, usage: "client", validForMs: lifetime }),
  ]);
  return {
    target: {
      caCertPem,
      certPem: server.certPem,
      keyPem: server.keyPem,
      clientDn: `CN=${sourceName}`,
    },
    source: {
      caCertPem,
      certPem: client.certPem,
      keyPem: client.keyPem,
      serverName: targetName,
    },
  };
}
