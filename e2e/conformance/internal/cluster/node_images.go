package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// PauseImage is the node's sandbox image (containerd's sandbox_image): the pause binary of build.sh node alone.
const PauseImage = "localhost/weighbridge/pause:node"

// Images builds container images with buildah (no daemon, no registry) and imports them into the node's
// containerd (namespace k8s.io, where the kubelet looks), as docker archives so that their names come along.
type Images struct {
	dir, containerdSock string
	logf                func(format string, args ...any)
}

// ImageFile is one file put into an image.
type ImageFile struct {
	// Src is a file or directory on this machine; Dst its path in the image.
	Src, Dst string
}

// ImageSpec is an image made from scratch of a few files.
type ImageSpec struct {
	Name       string // e.g. localhost/weighbridge/nodeapp:v1
	Files      []ImageFile
	Entrypoint []string
	User       string   // "999" or "65532:65532"; "" = root
	WorkDir    string   // "" = /
	Env        []string // NAME=value
}

func (im *Images) buildah(args ...string) (string, error) {
	all := append([]string{"--root", filepath.Join(im.dir, "storage"), "--runroot", filepath.Join(im.dir, "run"),
		"--storage-driver", "vfs"}, args...)
	out, err := exec.Command("buildah", all...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("buildah %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Build makes spec's image from scratch and imports it.
func (im *Images) Build(spec ImageSpec) error {
	ctr, err := im.buildah("from", "scratch")
	if err != nil {
		return err
	}
	defer func() { _, _ = im.buildah("rm", ctr) }()
	for _, f := range spec.Files {
		if _, err := im.buildah("copy", "--chmod", "0755", ctr, f.Src, f.Dst); err != nil {
			return err
		}
	}
	config := []string{"config", "--entrypoint", quoteJSON(spec.Entrypoint)}
	if spec.User != "" {
		config = append(config, "--user", spec.User)
	}
	if spec.WorkDir != "" {
		config = append(config, "--workingdir", spec.WorkDir)
	}
	for _, e := range spec.Env {
		config = append(config, "--env", e)
	}
	if _, err := im.buildah(append(config, ctr)...); err != nil {
		return err
	}
	if _, err := im.buildah("commit", "--quiet", ctr, spec.Name); err != nil {
		return err
	}
	return im.Import(spec.Name)
}

// Import copies the image name from buildah's storage into containerd.
func (im *Images) Import(name string) error {
	archive := filepath.Join(im.dir, strings.NewReplacer("/", "_", ":", "_").Replace(name)+".tar")
	_ = os.Remove(archive)
	if _, err := im.buildah("push", "--quiet", name, "docker-archive:"+archive+":"+name); err != nil {
		return err
	}
	defer os.Remove(archive)
	return im.ImportArchive(archive)
}

// ImportArchive imports a docker archive (with its images' names) into containerd.
func (im *Images) ImportArchive(archive string) error {
	out, err := exec.Command("ctr", "--address", im.containerdSock, "-n", "k8s.io", "images", "import",
		"--snapshotter", "overlayfs", archive).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images import %s: %w: %s", archive, err, out)
	}
	im.logf("node: %s imported into containerd: %s", filepath.Base(archive), strings.TrimSpace(string(out)))
	return nil
}

// Pause builds and imports PauseImage from the pause binary.
func (im *Images) Pause(pause string) error {
	return im.Build(ImageSpec{
		Name:       PauseImage,
		Files:      []ImageFile{{pause, "/pause"}},
		Entrypoint: []string{"/pause"},
		User:       "65535:65535",
	})
}

func quoteJSON(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(quoted, ",") + "]"
}
