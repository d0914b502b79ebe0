/**
 * Pure: the krew plugin manifest for `kubectl vm`. The archive holds the two single-file
 * builds; krew links `kubectl-vm` onto PATH. Node.js itself is the one requirement, said in
 * the caveats, as krew has no way to declare it.
 */
export function krewManifest(opts: { version: string; uri: string; sha256: string }): string {
  return `apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: vm
spec:
  version: v${opts.version}
  homepage: https://github.com/kubevisor/kubevisor
  shortDescription: Reach and operate Kubevisor virtual machines
  description: |
    Console, start, stop, restart, live migration and status of Kubevisor VirtualMachines,
    through the Kubernetes API with your own credentials (RBAC decides).
  caveats: |
    Needs Node.js 20 or newer on PATH. Shell completion: put kubectl_complete-vm on PATH too.
  platforms:
    - selector:
        matchExpressions:
          - { key: os, operator: In, values: [linux, darwin] }
      uri: ${opts.uri}
      sha256: ${opts.sha256}
      files:
        - { from: kubectl-vm, to: . }
        - { from: kubectl_complete-vm, to: . }
      bin: kubectl-vm
`;
}
