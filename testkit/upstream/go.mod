// Pins the upstream Go modules whose files (not code) the tests, e2e and the demo use: the Gateway API CRDs of four
// releases and Argo Rollouts' CRDs and install manifest. Nothing imports them, so go.mod requires nothing; go.sum
// names each pinned module@version with its checksum, and resolve.sh downloads exactly those with `go mod download`,
// which refuses a module whose hash differs from go.sum. Do not run `go mod tidy` here: it would empty go.sum.
// To pin another release: add its two lines (module hash and /go.mod hash, from `go mod download -json`) to go.sum.
module github.com/weighbridge/weighbridge/testkit/upstream

go 1.24
