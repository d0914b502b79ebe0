/**
 * A small certificate authority for Kubevisor's own mutual TLS: the operator issues a
 * serving certificate per launcher and a client certificate for itself; the aggregated API
 * server uses the same functions. ECDSA P-256 keys, SHA-256 signatures, PEM in and out, so
 * results go straight into Secrets and into node:tls options.
 */
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API;
// ESM evaluates imports in order, so this must stay above the x509 import.
import "reflect-metadata";
import { createPrivateKey, randomBytes, webcrypto } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const EC_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;
/** Certificates start a little in the past so a peer whose clock lags still accepts them. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** A CA ready to sign: its parsed certificate and its private key. */
export interface CertificateAuthority {
  certPem: string;
  cert: x509.X509Certificate;
  key: CryptoKey;
}

export type CertificateUsage = "server" | "client" | "both";

export interface IssueOptions {
  commonName: string;
  /** Subject O; Kubernetes reads it as the client's group. */
  organization?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: CertificateUsage;
  days?: number;
  /** Overrides `days` for short-lived certificates (a migration's): valid for this long. */
  validForMs?: number;
}

export async function createCA(
  commonName: string,
  days = 3650,
  validForMs?: number,
): Promise<PemPair> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    ...validity(days, validForMs),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportKey(keys.privateKey) };
}

export async function issueCertificate(
  ca: PemPair | CertificateAuthority,
  options: IssueOptions,
): Promise<PemPair> {
  const authority = "cert" in ca ? ca : await loadCA(ca);
  const keys = await generateKeys();
  const subject: x509.JsonName = [{ CN: [options.commonName] }];
  if (options.organization) subject.push({ O: [options.organization] });
  const sans: x509.JsonGeneralName[] = [
    ...(options.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(options.ipAddresses ?? []).map((value) => {
      if (!isIP(value)) throw new Error(`not an IP address: ${value}`);
      return { type: "ip" as const, value };
    }),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(extendedUsages(options.usage), false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(authority.cert),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: authority.cert.subject,
    publicKey: keys.publicKey,
    signingKey: authority.key,
    signingAlgorithm: signingAlgorithmFor(authority.key),
    ...validity(options.days ?? 365, options.validForMs),
    extensions,
  });
  return { certPem: cert.toString("pem"), keyPem: await exportKey(keys.privateKey) };
}

/**
 * Parse a CA from PEM. The key may be PKCS#8, SEC1 ("EC PRIVATE KEY") or PKCS#1, EC or RSA,
 * so a CA made by other tools (kubeadm, openssl) can sign too.
 */
export async function loadCA(pair: PemPair): Promise<CertificateAuthority> {
  const cert = new x509.X509Certificate(pair.certPem);
  const keyObject = createPrivateKey(pair.keyPem);
  const der = keyObject.export({ type: "pkcs8", format: "der" });
  let algorithm: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  if (keyObject.asymmetricKeyType === "ec") {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === "prime256v1" ? "P-256" : curve === "secp384r1" ? "P-384" : null;
    if (!namedCurve) throw new Error(`unsupported CA key curve ${curve}`);
    algorithm = { name: "ECDSA", namedCurve };
  } else if (keyObject.asymmetricKeyType === "rsa") {
    algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  } else {
    throw new Error(`unsupported CA key type ${keyObject.asymmetricKeyType}`);
  }
  const key = await webcrypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]);
  return { certPem: pair.certPem, cert, key };
}

/** Read a CA from a certificate file and a key file (for example a mounted Secret). */
export async function readCA(certPath: string, keyPath: string): Promise<CertificateAuthority> {
  const [certPem, keyPem] = await Promise.all([
    readFile(certPath, "utf8"),
    readFile(keyPath, "utf8"),
  ]);
  return loadCA({ certPem, keyPem });
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

function signingAlgorithmFor(key: CryptoKey): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return key.algorithm.name === "ECDSA" ? SIGNING_ALGORITHM : { name: key.algorithm.name };
}

function extendedUsages(usage: CertificateUsage): x509.ExtendedKeyUsage[] {
  const server = x509.ExtendedKeyUsage.serverAuth;
  const client = x509.ExtendedKeyUsage.clientAuth;
  return usage === "server" ? [server] : usage === "client" ? [client] : [server, client];
}

function validity(days: number, validForMs?: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  const lifetime = validForMs ?? days * DAY_MS;
  return { notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + lifetime) };
}

/** A positive 128-bit serial: the top bit cleared so DER never reads it as negative. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}
