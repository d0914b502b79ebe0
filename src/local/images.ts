/**
 * Image names the project publishes. The Helm chart, the operator and the local nodes' image
 * store all read them from here, so a rename happens in one place.
 */

/** The one Kubevisor image: Node.js, the built code and QEMU (see the Dockerfile). */
export const KUBEVISOR_IMAGE_REPOSITORY = "kubevisor/kubevisor";
/** The test guest as a container-disk image: `boot/vmlinuz` and `boot/initrd.img`. */
export const TEST_GUEST_IMAGE_REPOSITORY = "kubevisor/test-guest";
/** The Debian 12 cloud image `npm run guest` builds, as a containerDisk: `/disk/disk.qcow2`. */
export const DEBIAN_CLOUD_IMAGE_REPOSITORY = "kubevisor/debian-cloud";
/**
 * Tag local clusters use: the release's version, like the chart's appVersion (never
 * `latest`: operator and launchers must run the same code). tests/unit/chart checks they agree.
 */
export const DEFAULT_IMAGE_TAG = "0.1.0";

export const KUBEVISOR_IMAGE = `${KUBEVISOR_IMAGE_REPOSITORY}:${DEFAULT_IMAGE_TAG}`;
export const TEST_GUEST_IMAGE = `${TEST_GUEST_IMAGE_REPOSITORY}:${DEFAULT_IMAGE_TAG}`;
/** Tagged with the Debian release it carries. */
export const DEBIAN_CLOUD_IMAGE = `${DEBIAN_CLOUD_IMAGE_REPOSITORY}:12`;

/**
 * The repository part of an image reference, normalised the way Docker does for Docker Hub
 * names (`docker.io/` and `index.docker.io/` prefixes dropped), without tag or digest.
 */
export function imageRepository(ref: string): string {
  const withoutDigest = ref.split("@")[0] ?? ref;
  const lastSlash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.lastIndexOf(":");
  const repo = colon > lastSlash ? withoutDigest.slice(0, colon) : withoutDigest;
  return repo.replace(/^(docker\.io|index\.docker\.io)\//, "");
}

/**
 * The full name a kubelet (containerd's CRI plugin) looks `ref` up by: Docker Hub references
 * get `docker.io/` (and `library/` when bare); one with a registry host stays as it is. An
 * archive imported without a registry must carry this name for pods naming `ref` to find it.
 */
export function criImageName(ref: string): string {
  const first = ref.split("/")[0] ?? "";
  const hasRegistry =
    ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasRegistry) return ref;
  return ref.includes("/") ? `docker.io/${ref}` : `docker.io/library/${ref}`;
}
