// Command kubectl is kubectl of the control plane's Kubernetes release: the same command tree, verbosity
// handling and client auth plugins as k8s.io/kubernetes/cmd/kubectl (whose module cannot be required without
// the whole staging replace list), built by ../build.sh kubectl for the operator-doc test (charts
// OperatorDocsIT). Nothing here is shipped.
package main

import (
	"os"

	_ "k8s.io/client-go/plugin/pkg/client/auth" // the client auth plugins kubectl registers
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	// -v is honoured while the command tree is built, before cobra parses the flags.
	_, _ = logs.GlogSetter(cmd.GetLogVerbosity(os.Args))
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err)
	}
}
