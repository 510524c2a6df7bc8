# Weighbridge build. Finds a JDK >= 21 and Go by itself; override with JAVA_HOME=… or GO=….
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

ROOT       := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
JAVA_HOME  := $(shell $(ROOT)/scripts/find-jdk)
GO         ?= $(shell $(ROOT)/scripts/find-go)
export JAVA_HOME
export PATH := $(JAVA_HOME)/bin:$(dir $(GO)):$(PATH)
MVN        ?= mvn -B -ntp
VERSION    ?= $(shell git -C $(ROOT) describe --tags --always --dirty 2>/dev/null || echo dev)

CONNECTOR  := $(ROOT)/connector/bin/weighbridge-connector
SERVER_JAR := $(ROOT)/plugin-server/target/weighbridge-plugin-server-0.1.0-SNAPSHOT.jar

# Argo Rollouts v1.10 needs Go >= 1.26.10: what builds against it (conformance with go.argo110.mod, e2e-argo110)
# runs with this toolchain, which the go command takes from the Go module proxy (about 76 MB, once per machine).
ARGO110_GO := GOTOOLCHAIN=go1.27.3 $(GO)

# Where built control-plane binaries (etcd, kube-apiserver) are cached between runs.
export WEIGHBRIDGE_CACHE ?= $(HOME)/.cache/weighbridge

.PHONY: e2e-node build java connector connector-dist controlplane traefik test unit-test java-test connector-test conformance e2e e2e-argo191 e2e-argo110 e2e-k3s demo run bench fuzz clean fmt generate image

## build: compile and package plugin-server and the connector (no tests)
build: java connector

REVISION   ?= $(shell git -C $(ROOT) rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

java:
	$(MVN) -q package -DskipTests -Dweighbridge.version=$(VERSION) -Dweighbridge.revision=$(REVISION)

connector:
	cd connector && CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" \
	  -o $(CONNECTOR) .

## connector-dist: the connector, static, for linux/amd64 and linux/arm64 with sha256 files, into connector/dist/
## (what the image serves at /connector/<os>-<arch>; run plugin-server with --connector-dir=connector/dist)
connector-dist:
	mkdir -p connector/dist
	cd connector && for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" \
	    -o dist/weighbridge-connector-linux-$$arch . ; \
	  (cd dist && sha256sum weighbridge-connector-linux-$$arch > weighbridge-connector-linux-$$arch.sha256); \
	done

## controlplane: build (or find cached) the kube-apiserver and etcd the integration tests run
controlplane:
	GO=$(GO) $(ROOT)/testkit/controlplane/build.sh

## traefik: build (or find cached) Traefik v3.6.12, the real north/south gateway of `make demo` and `make e2e`
## (testkit/traefik/build.sh; cold about 9 min on 2 idle cores, cached in $(WEIGHBRIDGE_CACHE)/traefik)
traefik:
	GO=$(GO) $(ROOT)/testkit/traefik/build.sh

## test: every test: formatting, Java unit + integration tests, connector vet + unit tests, conformance
test: connector-test java-test conformance

java-test: controlplane
	$(MVN) verify

connector-test:
	cd connector && $(GO) vet ./... && $(GO) test -count=1 ./...

## conformance: Argo's own plugin client -> connector -> plugin-server with a recording router, and with the
## real routing engine on a real kube-apiserver (e2e/README.md); twice: with Argo v1.9.1's client (go.mod) and
## with v1.10.2's (go.argo110.mod)
CONFORMANCE_ENV = WEIGHBRIDGE_CONNECTOR=$(CONNECTOR) WEIGHBRIDGE_JAVA=$(JAVA_HOME)/bin/java WEIGHBRIDGE_ROOT=$(ROOT)
conformance: build controlplane
	cd e2e/conformance && $(GO) vet ./... && $(CONFORMANCE_ENV) $(GO) test -count=1 -v ./...
	cd e2e/conformance && $(ARGO110_GO) vet -modfile=go.argo110.mod . && \
	  $(CONFORMANCE_ENV) $(ARGO110_GO) test -modfile=go.argo110.mod -count=1 -v .

## e2e: the end-to-end scenarios: the real Argo Rollouts controller v1.9.1 drives canaries through the connector
## and plugin-server on a local control plane built from Go modules (etcd, kube-apiserver, kube-controller-manager,
## KWOK; cached like `make controlplane`), with real Traefik v3.6.12 carrying the north/south traffic (`make
## traefik`), all in a network namespace of its own (scripts/in-netns), then tears it down and prints each
## scenario's timeline (E2E_ARGS="-run TestPerMille" picks scenarios; see e2e/README.md); then make e2e-argo110
e2e: e2e-argo191 e2e-argo110

E2E_BINS = bin=$$(GO=$(GO) $(ROOT)/testkit/controlplane/build.sh e2e) && \
	  traefik=$$(GO=$(GO) $(ROOT)/testkit/traefik/build.sh)

e2e-argo191: build
	$(E2E_BINS) && cd e2e/conformance && $(GO) vet -tags e2e ./... && \
	  WEIGHBRIDGE_E2E_BIN=$$bin WEIGHBRIDGE_TRAEFIK=$$traefik/traefik WEIGHBRIDGE_CONNECTOR=$(CONNECTOR) \
	  WEIGHBRIDGE_JAVA=$(JAVA_HOME)/bin/java WEIGHBRIDGE_ROOT=$(ROOT) WEIGHBRIDGE_SERVER_JAR=$(SERVER_JAR) \
	  $(GO) test -exec $(ROOT)/scripts/in-netns -tags e2e -count=1 -v -timeout 40m ./rollouts/ $(E2E_ARGS)

## e2e-node: the real-node scenarios (e2e/README.md): a single-node cluster from parts (etcd, kube-apiserver,
## kube-controller-manager, kube-scheduler, kubelet on containerd + runc + CNI bridge, kube-proxy) inside a network
## namespace the test makes, running real pods from images built with buildah: Argo Rollouts from its install.yaml,
## Weighbridge by `helm install` of charts/weighbridge, Traefik; prints a timeline. Needs root and apt-get install
## containerd runc containernetworking-plugins buildah debootstrap iptables iproute2. Cold: node + helm + Traefik
## builds and the plugin-server image (testkit/nodeimages/build.sh); warm about 3 min (E2E_NODE_ARGS="-run X")
e2e-node:
	GO=$(GO) $(ROOT)/testkit/controlplane/build.sh e2e >/dev/null
	GO=$(GO) $(ROOT)/testkit/controlplane/build.sh node >/dev/null
	GO=$(GO) $(ROOT)/testkit/controlplane/build.sh kubectl >/dev/null
	GO=$(GO) $(ROOT)/testkit/controlplane/build.sh helm >/dev/null
	GO=$(GO) $(ROOT)/testkit/traefik/build.sh >/dev/null
	GO=$(GO) $(ROOT)/testkit/upstream/resolve.sh >/dev/null
	images=$$($(ROOT)/testkit/nodeimages/build.sh) && cd e2e/conformance && $(GO) vet -tags e2enode ./node/ && \
	  WEIGHBRIDGE_ROOT=$(ROOT) WEIGHBRIDGE_NODE_IMAGES=$$images \
	  $(GO) test -tags e2enode -count=1 -v -timeout 40m ./node/ $(E2E_NODE_ARGS)

## e2e-argo110: scenario (a) of make e2e (1% -> 100%, then promotion) on Argo Rollouts v1.10.2's controller
## (build.sh rollouts-v1.10, cached under its own key; the rest as make e2e, Traefik included), built with
## go.argo110.mod (make e2e runs it after the v1.9.1 scenarios; E2E_ARGO110_ARGS="-run ." runs every scenario)
E2E_ARGO110_ARGS ?= -run TestCanaryOneToHundredPercent
e2e-argo110: build
	$(E2E_BINS) && argo=$$(GO=$(GO) $(ROOT)/testkit/controlplane/build.sh rollouts-v1.10) && cd e2e/conformance && \
	  $(ARGO110_GO) vet -modfile=go.argo110.mod -tags e2e ./rollouts/ && \
	  WEIGHBRIDGE_E2E_BIN=$$bin WEIGHBRIDGE_TRAEFIK=$$traefik/traefik \
	  WEIGHBRIDGE_ROLLOUTS_CONTROLLER=$$argo/rollouts-controller $(CONFORMANCE_ENV) \
	  WEIGHBRIDGE_SERVER_JAR=$(SERVER_JAR) \
	  $(ARGO110_GO) test -exec $(ROOT)/scripts/in-netns -modfile=go.argo110.mod -tags e2e -count=1 -v -timeout 20m \
	  ./rollouts/ $(E2E_ARGO110_ARGS)

## demo: the main job: a local control plane (as `make e2e`, with real Traefik, in a network namespace of its own),
## a sample app with Traefik and Linkerd routes, and a live table of the real Argo Rollouts controller taking a
## canary 1% -> 100% through Weighbridge with the split Traefik applied at each step, then a bad version rolled
## back by the analyzer from Traefik's metrics, a summary, and tear-down (Ctrl-C tears down too; DEMO_ARGS=-plain)
demo:
	@prom=$${WEIGHBRIDGE_PROMETHEUS:-/usr/bin/prometheus}; [[ -x $$prom ]] || { \
	  echo "demo: NOTE: $$prom is missing. The second half of the demo (a bad version rolled back by the canary"; \
	  echo "      analyzer) needs a real Prometheus; get it with"; \
	  echo "          sudo apt-get install prometheus"; \
	  echo "      (Debian/Ubuntu; elsewhere set WEIGHBRIDGE_PROMETHEUS=/path/to/prometheus). Without it the demo shows"; \
	  echo "      the promotion only."; }
	@echo "demo: building plugin-server (Maven) and the connector (Go): about 1-3 min; on a fresh machine longer, while"
	@echo "      Maven and Go download their dependencies"
	@$(MAKE) --no-print-directory build
	@bin=$$(GO=$(GO) $(ROOT)/testkit/controlplane/build.sh e2e 2> >(while IFS= read -r line; do \
	    case $$line in "controlplane: building"*|"controlplane: another build"*) \
	      echo "demo: the control plane (etcd, kube-apiserver, kube-controller-manager, KWOK, Argo Rollouts v1.9.1) is"; \
	      echo "      built from Go modules into $(WEIGHBRIDGE_CACHE) once: about 15-25 minutes on 2 cores (more while Go"; \
	      echo "      downloads the modules); later runs find it at once";; esac; \
	    echo "$$line"; done >&2)) && \
	  traefik=$$(GO=$(GO) $(ROOT)/testkit/traefik/build.sh 2> >(while IFS= read -r line; do \
	    case $$line in "traefik: building"*|"traefik: another build"*) \
	      echo "demo: Traefik v3.6.12 (the real north/south gateway) is built from Go modules into $(WEIGHBRIDGE_CACHE)"; \
	      echo "      once: about 10-25 minutes on 2 cores; later runs find it at once";; esac; \
	    echo "$$line"; done >&2)) && cd e2e/conformance && \
	  WEIGHBRIDGE_E2E_BIN=$$bin WEIGHBRIDGE_TRAEFIK=$$traefik/traefik WEIGHBRIDGE_CONNECTOR=$(CONNECTOR) \
	  WEIGHBRIDGE_JAVA=$(JAVA_HOME)/bin/java WEIGHBRIDGE_ROOT=$(ROOT) WEIGHBRIDGE_SERVER_JAR=$(SERVER_JAR) \
	  $(GO) run -exec $(ROOT)/scripts/in-netns ./cmd/demo $(DEMO_ARGS)

## e2e-k3s: scenarios (a), (b), (d), (e), (f) of make e2e (not (c): needs Prometheus and the analyzer) on k3s
## (Testcontainers): the official Argo Rollouts v1.9.1 image in the cluster downloads the connector from
## plugin-server (in the test JVM, real engine); needs a Docker engine, skipped with a message without one
## (e2e/README.md)
e2e-k3s: connector-dist
	WEIGHBRIDGE_CONNECTOR_DIST=$(ROOT)/connector/dist $(MVN) -pl e2e -am -Pe2e-k3s -DskipTests -DskipITs verify

## run: start plugin-server on its defaults (gRPC :9090, HTTP :8080; ARGS=--help lists the flags)
# The class-data archive, written by the first run and reused (and renewed when the jar changes) by later
# ones, about halves the time to ready (it keeps the classes of the run that wrote it: delete it to renew).
run: java
	$(JAVA_HOME)/bin/java -XX:+AutoCreateSharedArchive -Xlog:cds=off \
	  -XX:SharedArchiveFile=$(ROOT)/plugin-server/target/plugin-server.jsa -jar $(SERVER_JAR) $(ARGS)

## bench: first the whole path (Argo's client -> connector -> plugin-server jar -> kube-apiserver) as ratios to a
## bare PATCH in the same run, with CPU per call, RSS, start times and correctness checks, in one table beside the
## targets of issue 13 (PATH_BENCH_ARGS="-mem-calls 10000 -rounds 1000"); then latency/throughput/memory of
## the gRPC path (without and with the class-data archive `make run` uses), the routing engine's API calls
## and latency on a real kube-apiserver, and the canary analyzer's simulated detection times and false-abort
## rate (BENCH_ARGS="-n 50000 -jvm-args=-Xmx256m", ENGINE_BENCH_ARGS="--iterations=1000"; see e2e/README.md)
E2E_CP = $(ROOT)/e2e/target/test-classes:$(ROOT)/e2e/target/classes:$$(cat $(ROOT)/e2e/target/conformance-classpath.txt)
E2E_TEST_JAR = $(ROOT)/e2e/target/weighbridge-e2e-0.1.0-SNAPSHOT-tests.jar
CDS_JVM_ARGS = -XX:+AutoCreateSharedArchive -Xlog:cds=off -XX:SharedArchiveFile=$(ROOT)/e2e/target/conformance-server.jsa
# The whole-path bench starts plugin-server as the image does (IMAGE_JVM_ARGS, a 512 MiB memory limit as in the
# chart); with a JDK 25 it trains and uses the AOT cache the image builds (-aot), on an older JDK it runs without.
# The JDK is asked whether it knows -XX:AOTCacheOutput by listing its flags: a trial run with an output path would
# write a cache there (as root, -XX:AOTCacheOutput=/dev/null replaces the machine's /dev/null with a regular file).
# The image's 8-byte object headers (-XX:+UseCompactObjectHeaders) are a product flag from JDK 25 on; an older JDK
# would refuse to start with it, so it is added only when the JDK lists it as a product flag.
IMAGE_JVM_ARGS = -XX:MaxRAM=512m -XX:MaxRAMPercentage=75 -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 \
  -XX:ReservedCodeCacheSize=48m -Xss512k -XX:+ExitOnOutOfMemoryError \
  $$($(JAVA_HOME)/bin/java -XX:+PrintFlagsFinal -version 2>/dev/null | grep -q 'UseCompactObjectHeaders .*{product' && echo -XX:+UseCompactObjectHeaders)
PATH_BENCH_ARGS ?= -mem-calls 3000
bench: build controlplane
	cd e2e/conformance && WEIGHBRIDGE_CONNECTOR=$(CONNECTOR) WEIGHBRIDGE_JAVA=$(JAVA_HOME)/bin/java \
	  WEIGHBRIDGE_ROOT=$(ROOT) WEIGHBRIDGE_SERVER_JAR=$(SERVER_JAR) $(GO) run ./cmd/bench -path \
	  $$($(JAVA_HOME)/bin/java -XX:+PrintFlagsFinal -version 2>/dev/null | grep -qw AOTCacheOutput && echo -aot) \
	  -jvm-args="$(IMAGE_JVM_ARGS)" $(PATH_BENCH_ARGS)
	cd e2e/conformance && WEIGHBRIDGE_CONNECTOR=$(CONNECTOR) WEIGHBRIDGE_JAVA=$(JAVA_HOME)/bin/java \
	  WEIGHBRIDGE_ROOT=$(ROOT) $(GO) run ./cmd/bench $(BENCH_ARGS)
	@echo "The same with the class-data archive of make run (written afresh by the first start: an archive"
	@echo "whose jars were rebuilt since is silently not used, and not renewed either):"
	rm -f $(ROOT)/e2e/target/conformance-server.jsa
	cd e2e/conformance && WEIGHBRIDGE_CONNECTOR=$(CONNECTOR) WEIGHBRIDGE_JAVA=$(JAVA_HOME)/bin/java \
	  WEIGHBRIDGE_ROOT=$(ROOT) WEIGHBRIDGE_TEST_JAR=$(E2E_TEST_JAR) \
	  $(GO) run ./cmd/bench $(BENCH_ARGS) -jvm-args="$(CDS_JVM_ARGS)"
	$(JAVA_HOME)/bin/java -Dlogback.configurationFile=$(ROOT)/e2e/target/test-classes/logback-bench.xml \
	  -cp "$(E2E_CP)" io.weighbridge.e2e.EngineBenchMain $(ENGINE_BENCH_ARGS)
	@echo "Canary analyzer simulation (1% canary, 100 req/s in total, 5 s scrape; ANALYZER_BENCH_ARGS=<healthy runs>):"
	$(JAVA_HOME)/bin/java -Dlogback.configurationFile=$(ROOT)/plugin-server/target/test-classes/logback-analyzer-bench.xml \
	  -cp "$(ROOT)/plugin-server/target/test-classes:$(ROOT)/plugin-server/target/classes:$(ROOT)/plugin-server/target/lib/*" \
	  io.weighbridge.bench.AnalyzerSimulation $(ANALYZER_BENCH_ARGS)

## fuzz: fuzz plugin-server's Jazzer targets (RequestFuzzTest: Rollout JSON -> gRPC mapping -> config parsers ->
## routing engine; SetHeaderRoute; raw bytes to every gRPC method), each for its maxDuration (2 min); `make test`
## runs only their seed inputs. A finding fails the run and is saved under plugin-server/src/test/resources/
## io/weighbridge/domain/routing/RequestFuzzTestInputs/<target>/, where it stays a regression input
## (FUZZ_TARGETS="rolloutJson" picks targets)
FUZZ_TARGETS ?= rolloutJson headerRoute grpcRequest
fuzz:
	for target in $(FUZZ_TARGETS); do \
	  JAZZER_FUZZ=1 $(MVN) -pl plugin-server -am test -DfuzzOnly=true -Dtest="RequestFuzzTest#$$target" \
	    -Dsurefire.failIfNoSpecifiedTests=false || exit 1; \
	done

## image: build the container image (needs a Docker engine with BuildKit; IMAGE=repo:tag to name it; for both
## architectures: docker buildx build --platform linux/amd64,linux/arm64 ...)
IMAGE ?= weighbridge:$(VERSION)
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t $(IMAGE) $(ROOT)

## fmt: format Java sources (google-java-format) and Go sources
fmt:
	$(MVN) -q spotless:apply
	cd connector && $(GO) fmt ./...
	cd e2e/conformance && $(GO) fmt ./...

## generate: regenerate the connector's Go stubs from the proto (Maven fetches the pinned protoc first)
generate:
	$(MVN) -q -pl proto generate-sources
	GO=$(GO) connector/hack/generate.sh

clean:
	$(MVN) -q clean
	rm -rf connector/bin connector/dist
