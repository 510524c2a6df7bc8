package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// TestkitBuild runs the build script testkit/<kind>/build.sh of the repository at root with args (e.g. kind
// "controlplane" with "e2e", or "traefik"), its log going to stderr, and returns the directory it prints: where the
// built (or cached) binaries are.
func TestkitBuild(root, kind string, args ...string) (string, error) {
	script := filepath.Join(root, "testkit", kind, "build.sh")
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s failed (%w): see its output above", script, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
