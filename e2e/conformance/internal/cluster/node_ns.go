package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The real node's network: everything runs in a network namespace the test creates, so nothing it starts is
// reachable from the machine and no port or address of the machine is taken. The namespace's one interface,
// node0 (a veth whose peer stays in the namespace too), carries the node's address; pods get addresses from the
// CNI bridge cni0 in NodePodCIDR, Services from ServiceCIDR.
const (
	NodeIP      = "10.250.0.1"
	NodePodCIDR = "10.244.0.0/24"
	ClusterCIDR = "10.244.0.0/16"
	ServiceCIDR = "10.96.0.0/16"
	// NodeDNS is where the harness's cluster DNS stand-in listens (kubelet's clusterDNS).
	NodeDNS = NodeIP
)

// insideEnv marks the re-executed test binary (see InNodeNamespaces).
const insideEnv = "WEIGHBRIDGE_NODE_NAMESPACES"

// InNodeNamespaces runs the current program again inside a new network and mount namespace (`unshare --net
// --mount --propagation private`) unless it already runs there, and returns (true, its exit code) when it did:
// the caller then exits with that code. Inside, it returns (false, 0) after setting the namespace up: the loopback
// and node0 interfaces, IP forwarding, tmpfs over /run, /var/log and /var/lib/cni (containerd's, the kubelet's and
// libcni's fixed paths stay private to this run) and the kernel tunables the kubelet checks (see maskKernelTunables). When the
// namespaces end, every mount made in them goes; afterwards, processes the run left in the node's cgroups (see
// KillLeftovers) are killed.
func InNodeNamespaces() (bool, int) {
	if os.Getenv(insideEnv) == "1" {
		if err := setUpNamespace(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: set up the node's namespace: %v\n", err)
			os.Exit(1)
		}
		return false, 0
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "FAIL: the real-node test runs containerd and a kubelet: run it as root (make e2e-node)")
		return true, 1
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: find the test binary: %v\n", err)
		return true, 1
	}
	cmd := exec.Command("unshare", append([]string{"--net", "--mount", "--propagation", "private", "--", self}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), insideEnv+"=1")
	err = cmd.Start()
	var netns string
	if err == nil {
		// unshare execs the test binary in the namespaces it made: the same pid, from then on in the new netns.
		for i := 0; i < 100 && (netns == "" || netns == ownNetns()); i++ {
			netns, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
			time.Sleep(10 * time.Millisecond)
		}
		err = cmd.Wait()
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: unshare (util-linux) the test into its own namespaces: %v\n", err)
		code = 1
	}
	// A test that panicked or was killed did not stop the node: end what still runs in its network namespace
	// (kubelet, containerd and its shims, the control plane) first, so that nothing restarts the pods, then the pods.
	if n := killNetns(netns); n > 0 {
		fmt.Fprintf(os.Stderr, "e2e-node: killed %d processes left in the node's network namespace\n", n)
	}
	if n := KillLeftovers(); n > 0 {
		fmt.Fprintf(os.Stderr, "e2e-node: killed %d processes left in the node's cgroups\n", n)
	}
	return true, code
}

func ownNetns() string {
	ns, _ := os.Readlink("/proc/self/ns/net")
	return ns
}

// killNetns kills (SIGKILL) every process whose network namespace is netns (as /proc/<pid>/ns/net reads, e.g.
// "net:[4026532301]"); it returns how many. The machine's own namespace is never a target.
func killNetns(netns string) int {
	if netns == "" || netns == ownNetns() {
		return 0
	}
	killed := 0
	for round := 0; round < 10; round++ {
		entries, _ := os.ReadDir("/proc")
		found := 0
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); ns == netns {
				found++
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			}
		}
		if found == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return killed
}

func setUpNamespace() error {
	steps := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "add", "node0", "type", "veth", "peer", "name", "node0-peer"},
		{"ip", "addr", "add", NodeIP + "/24", "dev", "node0"},
		{"ip", "link", "set", "node0", "up"},
		{"ip", "link", "set", "node0-peer", "up"},
		{"ip", "route", "add", "default", "dev", "node0"},
		{"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
		{"sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"},
		{"sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1"},
		{"mount", "-t", "tmpfs", "-o", "mode=755", "weighbridge-node-run", "/run"},
		{"mount", "-t", "tmpfs", "-o", "mode=755", "weighbridge-node-log", "/var/log"},
		// libcni's cache of results (fixed path /var/lib/cni, used by containerd's CRI).
		{"mkdir", "-p", "/var/lib/cni"},
		{"mount", "-t", "tmpfs", "-o", "mode=755", "weighbridge-node-cni", "/var/lib/cni"},
	}
	for _, argv := range steps {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, out)
		}
	}
	if err := ensureNullDevice(); err != nil {
		return err
	}
	return maskKernelTunables()
}

// ensureNullDevice makes /dev/null, in this mount namespace, the null device again when the machine's has been
// replaced by a regular file (a root process that deletes and recreates its output path, such as a JVM writing
// -XX:AOTCacheOutput=/dev/null, does that). containerd starts every shim with /dev/null as its standard input and
// reads it as the shim's options: a regular file's leftover bytes fail every pod sandbox with "failed to start
// shim: ... proto: illegal wireType". The machine's own /dev/null is left as it is; the run says how to restore it.
func ensureNullDevice() error {
	var st syscall.Stat_t
	if err := syscall.Stat("/dev/null", &st); err != nil {
		return fmt.Errorf("stat /dev/null: %w", err)
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFCHR && st.Rdev == nullDevice {
		return nil
	}
	fresh := "/run/weighbridge-null"
	if err := syscall.Mknod(fresh, syscall.S_IFCHR|0o666, nullDevice); err != nil {
		return fmt.Errorf("/dev/null is not the null device here and a fresh one cannot be made (%w): restore it with "+
			"`rm /dev/null && mknod -m 666 /dev/null c 1 3`", err)
	}
	if err := syscall.Mount(fresh, "/dev/null", "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind the null device over /dev/null: %w", err)
	}
	fmt.Fprintln(os.Stderr, "e2e-node: WARNING: this machine's /dev/null is not the null device (something replaced it "+
		"with a regular file); the node's namespace uses a fresh one. Restore the machine's with "+
		"`rm /dev/null && mknod -m 666 /dev/null c 1 3`")
	return nil
}

// nullDevice is /dev/null's device number: major 1, minor 3.
const nullDevice = 1<<8 | 3

// maskKernelTunables shows the kubelet, in this mount namespace only, the kernel settings it insists on
// (vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1, ...: pkg/kubelet/cm setupKernelTunables),
// which it would otherwise write into the shared machine's kernel. Each /proc/sys file is covered by a bind mount
// of a file that holds the wanted value; the kernel keeps its own.
func maskKernelTunables() error {
	dir, err := os.MkdirTemp("/run", "kernel-tunables-")
	if err != nil {
		return err
	}
	for file, value := range map[string]int{
		"vm/overcommit_memory":      1,
		"vm/panic_on_oom":           0,
		"kernel/panic":              10,
		"kernel/panic_on_oops":      1,
		"kernel/keys/root_maxkeys":  1000000,
		"kernel/keys/root_maxbytes": 25000000,
	} {
		target := filepath.Join("/proc/sys", file)
		current, err := os.ReadFile(target)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(current)) == strconv.Itoa(value) {
			continue
		}
		shown := filepath.Join(dir, strings.ReplaceAll(file, "/", "."))
		if err := os.WriteFile(shown, []byte(strconv.Itoa(value)+"\n"), 0o444); err != nil {
			return err
		}
		if err := syscall.Mount(shown, target, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s over %s: %w", shown, target, err)
		}
	}
	return nil
}

// nodeCgroup is the kubelet's cgroup root (cgroupRoot): pods' processes live below it in every hierarchy.
const nodeCgroup = "weighbridge-node"

// KillLeftovers kills (SIGKILL) every process in the node's cgroups (/sys/fs/cgroup/*/weighbridge-node/...) and
// removes those cgroups, deepest first; it returns how many processes it killed. Only this harness's kubelet and
// containerd create processes there.
func KillLeftovers() int {
	killed := 0
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*/" + nodeCgroup)
	for round := 0; round < 20; round++ {
		var dirs []string
		for _, h := range hierarchies {
			_ = filepath.WalkDir(h, func(path string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, path)
				}
				return nil
			})
		}
		if len(dirs) == 0 {
			return killed
		}
		for _, d := range dirs {
			procs, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(procs)) {
				if pid, err := strconv.Atoi(f); err == nil && syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
		for i := len(dirs) - 1; i >= 0; i-- { // WalkDir lists parents first
			_ = syscall.Rmdir(dirs[i])
		}
	}
	return killed
}

// createNodeCgroup makes the kubelet's cgroup root in every hierarchy (the kubelet requires it to exist); cpuset's
// needs the parent's CPUs and memory nodes before anything can join it.
func createNodeCgroup() error {
	roots, err := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	if err != nil {
		return err
	}
	for _, procs := range roots {
		root := filepath.Dir(procs)
		dir := filepath.Join(root, nodeCgroup)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(root, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					return fmt.Errorf("copy %s into %s: %w", f, dir, err)
				}
			}
		}
	}
	return nil
}

// RemoveNodeDir removes the node's work directory from inside the node's mount namespace: first it detaches
// every mount below dir (the pods' tmpfs volumes and /dev/shm of each sandbox, which the kubelet and containerd
// leave when they are stopped), deepest first, since a mount point cannot be removed while it is mounted.
func RemoveNodeDir(dir string) error {
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var below []string
	for _, line := range strings.Split(string(info), "\n") {
		// mountinfo: ID parentID major:minor root mountpoint options ...; spaces in paths are octal-escaped.
		fields := strings.Fields(line)
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			below = append(below, fields[4])
		}
	}
	slices.SortFunc(below, func(a, b string) int { return len(b) - len(a) })
	for _, mountPoint := range below {
		if err := syscall.Unmount(mountPoint, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("unmount %s: %w", mountPoint, err)
		}
	}
	return os.RemoveAll(dir)
}
