/**
 * Kubernetes resource quantities ("256Mi", "1G", "0.5Gi", 1073741824), the subset that
 * makes sense for sizes in bytes. Same grammar as apimachinery's resource.Quantity.
 */
export const QUANTITY_PATTERN =
  "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

const quantityRe = new RegExp(QUANTITY_PATTERN);

const BINARY: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

export function isQuantity(value: string | number): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  return quantityRe.test(value);
}

/** Bytes for a quantity, rounded up to a whole byte as Kubernetes does for memory. */
export function quantityToBytes(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`invalid quantity ${value}`);
    return Math.ceil(value);
  }
  if (!quantityRe.test(value)) throw new Error(`invalid quantity "${value}"`);
  const match = /^([+-]?[0-9.]+)(.*)$/.exec(value);
  if (!match) throw new Error(`invalid quantity "${value}"`);
  const [, num = "", suffix = ""] = match;
  const n = Number(num);
  if (suffix === "") return Math.ceil(n);
  const bin = BINARY[suffix];
  if (bin !== undefined) return Math.ceil(n * 1024 ** bin);
  const dec = DECIMAL[suffix];
  if (dec !== undefined) return Math.ceil(n * 10 ** dec);
  const exp = /^[eE]([+-]?[0-9.]+)$/.exec(suffix);
  if (exp) return Math.ceil(n * 10 ** Number(exp[1]));
  throw new Error(`invalid quantity "${value}"`);
}

export function quantityToMiB(value: string | number): number {
  return Math.ceil(quantityToBytes(value) / 1024 ** 2);
}
