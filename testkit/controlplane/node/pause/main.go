// Command pause is the one process of the real-node e2e's sandbox ("pause") image: it holds a pod's namespaces
// open, reaps the zombies of a shared PID namespace and exits on SIGINT/SIGTERM, as Kubernetes' own
// build/pause/linux/pause.c does. Built by ../../build.sh node; nothing here is shipped.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
