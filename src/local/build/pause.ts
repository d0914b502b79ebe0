/**
 * Source of the sandbox ("pause") binary every pod's sandbox runs. Kubernetes ships a C one in
 * an image we cannot pull; this is the same job in Go (static, CGO off): hold the pod's
 * namespaces, reap orphaned children (it is PID 1 when the pod shares its PID namespace),
 * exit 0 on SIGINT/SIGTERM. Bump PAUSE_VERSION in targets.ts when this changes.
 */
export const PAUSE_GO = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
`;

export const PAUSE_GO_MOD = "module kubevisor.local/pause\n\ngo 1.22\n";
