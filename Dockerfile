# syntax=docker/dockerfile:1
# Weighbridge plugin-server image, with the connector binaries Argo Rollouts runs as its plugin.
#
#   docker build -t weighbridge:dev .            (or: make image IMAGE=weighbridge:dev)
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/weighbridge:<tag> --push .
#
# The base images are build arguments (JAVA_BUILD_IMAGE, JDK_IMAGE, GO_IMAGE, RUNTIME_BASE; defaults: the public
# images below) so that a mirror or locally made bases can stand in: make e2e-node builds this file with buildah and
# bases made from Debian packages and the local JDK and Go (testkit/nodeimages/build.sh).
#
# Stages: java-build (Maven) -> jre (jlink) -> connector (Go, both architectures) -> runtime.
# The runtime image runs as uid 65532, writes only to /tmp (mount an emptyDir there with a read-only root
# filesystem) and holds the connector for linux/amd64 and linux/arm64 with their sha256 sums in
# /opt/weighbridge/connector (plugin-server's default --connector-dir), which plugin-server serves at
# http://<service>:8080/connector/linux-amd64 (and .sha256), so that the binary Argo installs always
# matches this plugin-server's version.

ARG JAVA_BUILD_IMAGE=maven:3.9-eclipse-temurin-21
ARG GO_IMAGE=golang:1.26
ARG JDK_IMAGE=eclipse-temurin:25-jdk
ARG RUNTIME_BASE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------------------
# 1. plugin-server jar + target/lib (the jar's manifest puts lib/*.jar on its class path).
FROM --platform=$BUILDPLATFORM ${JAVA_BUILD_IMAGE} AS java-build
# weighbridge_build_info{version,revision} reads them from the jar's manifest.
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /src
# The Maven repository is a cache mount, so dependencies are downloaded once per builder, not per build.
COPY . .
RUN --mount=type=cache,target=/root/.m2 \
    mvn -B -ntp -pl plugin-server -am package -DskipTests -Dweighbridge.version=${VERSION} \
      -Dweighbridge.revision=${REVISION} \
 && mkdir -p /out/lib \
 && cp plugin-server/target/weighbridge-plugin-server-*.jar /out/weighbridge-plugin-server.jar \
 && cp plugin-server/target/lib/*.jar /out/lib/

# ---------------------------------------------------------------------------------------------------
# 2. A Java 25 runtime with only the modules plugin-server needs, for the target architecture.
#    The module list comes from (run it again when dependencies change, and update JAVA_MODULES):
#      jdeps --multi-release 21 --ignore-missing-deps --print-module-deps \
#            --class-path 'plugin-server/target/lib/*' plugin-server/target/weighbridge-plugin-server-*.jar
#    which printed (0.1.0): java.base,java.desktop,java.naming,java.net.http,java.sql,jdk.httpserver,jdk.jfr,
#    jdk.management,jdk.unsupported — plus modules loaded only as services or by name, which jdeps cannot
#    see: jdk.crypto.ec (ECDHE/ECDSA in TLS to the API server), jdk.naming.dns (grpc-java's JNDI DNS
#    resolver), jdk.zipfs. jlink adds what these require (java.logging, java.management, ...).
#    --generate-cds-archive writes the JDK's base class-data archive, which the AOT cache below builds on.
# The runtime is JDK 25 (the code is compiled for release 21 and runs on 21 too) for its AOT cache (JEP
# 483/514/515, below); make bench measures the start with it.
# jlink writes to /jre: the JDK image's own JAVA_HOME is /opt/java/openjdk, and jlink refuses an --output directory
# that exists (so --output /opt/java failed on eclipse-temurin; found by make e2e-node, the first build of this file).
FROM ${JDK_IMAGE} AS jre
ARG JAVA_MODULES=java.base,java.desktop,java.naming,java.net.http,java.sql,jdk.httpserver,jdk.jfr,jdk.management,jdk.unsupported,jdk.crypto.ec,jdk.naming.dns,jdk.zipfs
RUN jlink --add-modules "${JAVA_MODULES}" --strip-debug --no-man-pages --no-header-files \
          --compress=zip-6 --generate-cds-archive --output /jre

# ---------------------------------------------------------------------------------------------------
# 3. The connector, static, for both architectures Argo Rollouts' controller image is published for.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS connector
ARG VERSION=dev
WORKDIR /src/connector
COPY connector/go.mod connector/go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY connector/ ./
# Named weighbridge-connector-<os>-<arch>, as plugin-server's /connector/<os>-<arch> expects (make connector-dist
# builds the same files into connector/dist/).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    set -eu; \
    mkdir -p /out; \
    for arch in amd64 arm64; do \
      CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath \
        -ldflags "-s -w -X main.version=${VERSION}" -o "/out/weighbridge-connector-linux-${arch}" . ; \
      (cd /out && sha256sum "weighbridge-connector-linux-${arch}" > "weighbridge-connector-linux-${arch}.sha256"); \
    done

# ---------------------------------------------------------------------------------------------------
# 4. Runtime: the jlinked JRE, the jar and its libraries, the connector binaries; non-root.
FROM ${RUNTIME_BASE} AS runtime
ENV JAVA_HOME=/opt/java \
    PATH=/opt/java/bin:$PATH \
    LANG=C.UTF-8
COPY --from=jre /jre /opt/java
COPY --from=java-build /out/ /opt/weighbridge/
COPY --from=connector /out/ /opt/weighbridge/connector/
# The AOT cache (JDK 25, JEP 514: one training run writes it at exit) is built into the image, so that a
# read-only root filesystem still uses it: the training run starts plugin-server (no API server is needed to
# become ready), waits for its "ready" log line and stops it with SIGTERM. The cache holds the classes loaded
# and linked, and the method profiles gathered, up to then; it is used with the same JVM flags (below).
RUN set -eu; \
    printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n' > /tmp/training.kubeconfig; \
    java -XX:MaxRAMPercentage=75 -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 \
         -XX:+UseCompactObjectHeaders -XX:ReservedCodeCacheSize=48m -Xss512k -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir=/tmp -Duser.home=/tmp \
         -XX:AOTCacheOutput=/opt/weighbridge/plugin-server.aot \
         -jar /opt/weighbridge/weighbridge-plugin-server.jar --kubeconfig=/tmp/training.kubeconfig \
         --auth-mode=none --bind-address=127.0.0.1 > /tmp/training.log 2>&1 & pid=$!; \
    for i in $(seq 1200); do grep -q 'ready' /tmp/training.log && break; sleep 0.1; done; \
    kill -TERM "$pid"; wait "$pid" || true; \
    test -s /opt/weighbridge/plugin-server.aot || { cat /tmp/training.log; exit 1; }; \
    rm -f /tmp/training.kubeconfig /tmp/training.log; \
    chmod -R a+rX /opt/weighbridge
# Container-aware JVM: heap as a share of the cgroup memory limit; the serial collector (one small heap, no
# concurrent GC threads) that gives memory back after a collection (heap free ratios: RSS 373 -> 316 MiB in
# make bench, 575 MiB without them); the C1 compiler only (TieredStopAtLevel=1: C2 kept compiling for
# thousands of calls, ~6 ms of CPU per changed SetWeight, and its code and arenas cost RSS; make bench:
# plugin-server CPU per changed SetWeight 12.5 -> 5.6 ms, RSS 354 -> 244 MiB); 8-byte object headers (JEP 519, a
# product flag since JDK 25: make bench's heap committed 93 -> 81-86 MiB, RSS 252 -> 242-247 MiB); exit (and be restarted) on
# OOM instead of limping on; the AOT cache above. To override one of these flags, set JDK_JAVA_OPTIONS whole,
# these first and yours after (the chart's jvmOptions does; its jvmImageOptions repeat this line, and a chart test
# compares them): JAVA_TOOL_OPTIONS is read before these, so its copy of a flag loses.
ENV JDK_JAVA_OPTIONS="-XX:MaxRAMPercentage=75 -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -XX:+UseCompactObjectHeaders -XX:ReservedCodeCacheSize=48m -Xss512k -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir=/tmp -Duser.home=/tmp -XX:AOTCache=/opt/weighbridge/plugin-server.aot"
USER 65532:65532
WORKDIR /tmp
EXPOSE 9090 8080
ENTRYPOINT ["java", "-jar", "/opt/weighbridge/weighbridge-plugin-server.jar"]
