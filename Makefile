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

# Where built control-plane binaries (etcd, kube-apiserver) are cached between runs.
export WEIGHBRIDGE_CACHE ?= $(HOME)/.cache/weighbridge

.PHONY: build java connector controlplane test unit-test java-test connector-test conformance run bench clean fmt generate

## build: compile and package plugin-server and the connector (no tests)
build: java connector

java:
	$(MVN) -q package -DskipTests

connector:
	cd connector && CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" \
	  -o $(CONNECTOR) .

## controlplane: build (or find cached) the kube-apiserver and etcd the integration tests run
controlplane:
	GO=$(GO) $(ROOT)/testkit/controlplane/build.sh

## test: every test: formatting, Java unit + integration tests, connector vet + unit tests, conformance
test: connector-test java-test conformance

java-test: controlplane
	$(MVN) verify

connector-test:
	cd connector && $(GO) vet ./... && $(GO) test -count=1 ./...

conformance: build
	cd e2e/conformance && WEIGHBRIDGE_CONNECTOR=$(CONNECTOR) WEIGHBRIDGE_JAVA=$(JAVA_HOME)/bin/java \
	  WEIGHBRIDGE_ROOT=$(ROOT) $(GO) test -count=1 -v ./...

## run: start plugin-server on its defaults (gRPC :8443? see --help)
run: java
	$(JAVA_HOME)/bin/java -jar $(SERVER_JAR) $(ARGS)

## bench: print latency/throughput/memory numbers
bench: build
	cd e2e/conformance && WEIGHBRIDGE_CONNECTOR=$(CONNECTOR) WEIGHBRIDGE_JAVA=$(JAVA_HOME)/bin/java \
	  WEIGHBRIDGE_ROOT=$(ROOT) $(GO) run ./cmd/bench

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
	rm -rf connector/bin
