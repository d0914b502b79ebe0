/** A disk the spec names but the pod cannot provide, or may not use: ConfigError. */
export class DiskError extends Error {
  override name = "DiskError";
}
