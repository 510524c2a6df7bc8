// Command etcd is upstream etcd's server entry point, built from go.etcd.io/etcd/server/v3 at the version this
// module pins (the one Kubernetes v1.34 is tested with), so tests need no downloaded etcd release.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
