// Package harness starts what the conformance tests and the bench drive: the Java plugin-server
// (ConformanceServerMain with a recording or no-op router) and the connector, the latter exactly the
// way Argo Rollouts' controller starts a traffic-router plugin.
package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Env is where the binaries under test are. The Makefile's conformance and bench targets set it.
type Env struct {
	// Connector is the connector binary (WEIGHBRIDGE_CONNECTOR).
	Connector string
	// Java is the java launcher (WEIGHBRIDGE_JAVA).
	Java string
	// Root is the repository root (WEIGHBRIDGE_ROOT).
	Root string
	// Classpath runs io.weighbridge.e2e.ConformanceServerMain: e2e's test classes, classes and test
	// dependencies (written by `mvn -pl e2e -am verify` to e2e/target/conformance-classpath.txt).
	Classpath string
}

// LoadEnv reads and checks the environment. Every problem is reported with how to fix it: a
// missing binary fails the run, it never skips it.
func LoadEnv() (Env, error) {
	var problems []string
	env := Env{
		Connector: os.Getenv("WEIGHBRIDGE_CONNECTOR"),
		Java:      os.Getenv("WEIGHBRIDGE_JAVA"),
		Root:      os.Getenv("WEIGHBRIDGE_ROOT"),
	}
	if env.Root == "" {
		// go test runs in e2e/conformance, go run ./cmd/bench too.
		if wd, err := os.Getwd(); err == nil {
			env.Root = findRoot(wd)
		}
	}
	if env.Root == "" {
		problems = append(problems, "WEIGHBRIDGE_ROOT is not set and no repository root (a directory with "+
			"pom.xml and e2e/conformance) is above the working directory: run `make conformance` from the repository root")
	}
	if env.Connector == "" && env.Root != "" {
		env.Connector = filepath.Join(env.Root, "connector", "bin", "weighbridge-connector")
	}
	if env.Java == "" {
		if home := os.Getenv("JAVA_HOME"); home != "" {
			env.Java = filepath.Join(home, "bin", "java")
		}
	}

	// Absolute, because tests change directory (as Argo's controller resolves plugin-bin/ relative to it).
	for _, path := range []*string{&env.Connector, &env.Java, &env.Root} {
		if *path != "" {
			if abs, err := filepath.Abs(*path); err == nil {
				*path = abs
			}
		}
	}
	if info, err := os.Stat(env.Connector); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		problems = append(problems, fmt.Sprintf("connector binary %q is missing or not executable: "+
			"build it with `make connector` (or set WEIGHBRIDGE_CONNECTOR)", env.Connector))
	}
	if env.Java == "" {
		problems = append(problems, "no java launcher: set WEIGHBRIDGE_JAVA (or JAVA_HOME) to a JDK 21+, as `make conformance` does")
	} else if _, err := os.Stat(env.Java); err != nil {
		problems = append(problems, fmt.Sprintf("java launcher %q does not exist: set WEIGHBRIDGE_JAVA to a JDK 21+ java", env.Java))
	}
	if env.Root != "" {
		cp, err := classpath(env.Root)
		if err != nil {
			problems = append(problems, err.Error())
		}
		env.Classpath = cp
	}
	if len(problems) > 0 {
		return env, errors.New("conformance environment is incomplete:\n  - " + strings.Join(problems, "\n  - "))
	}
	return env, nil
}

func classpath(root string) (string, error) {
	e2e := filepath.Join(root, "e2e", "target")
	file := filepath.Join(e2e, "conformance-classpath.txt")
	deps, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("the Java test classpath %s is missing (%v): build it with "+
			"`mvn -B -ntp -pl e2e -am verify -DskipTests` from the repository root (`make conformance` does)", file, err)
	}
	main := filepath.Join(e2e, "test-classes", "io", "weighbridge", "e2e", "ConformanceServerMain.class")
	if _, err := os.Stat(main); err != nil {
		return "", fmt.Errorf("%s is missing: compile e2e with `mvn -B -ntp -pl e2e -am verify -DskipTests`", main)
	}
	// Class-data sharing archives classes from jars only: with WEIGHBRIDGE_TEST_JAR (e2e's test jar,
	// written by `mvn package`) the class path holds no directory (e2e has no main classes).
	if jar := os.Getenv("WEIGHBRIDGE_TEST_JAR"); jar != "" {
		if _, err := os.Stat(jar); err != nil {
			return "", fmt.Errorf("WEIGHBRIDGE_TEST_JAR %s: %v: build it with `mvn -B -ntp -pl e2e -am package -DskipTests`", jar, err)
		}
		return strings.Join([]string{jar, strings.TrimSpace(string(deps))}, string(os.PathListSeparator)), nil
	}
	return strings.Join([]string{
		filepath.Join(e2e, "test-classes"),
		filepath.Join(e2e, "classes"),
		strings.TrimSpace(string(deps)),
	}, string(os.PathListSeparator)), nil
}

func findRoot(dir string) string {
	for {
		if fileExists(filepath.Join(dir, "pom.xml")) && fileExists(filepath.Join(dir, "e2e", "conformance", "go.mod")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
