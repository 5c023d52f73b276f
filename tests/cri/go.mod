module github.com/hull-runtime/hull/tests/cri

go 1.26.8

require (
	github.com/hull-runtime/hull v0.0.0-00010101000000-000000000000
	google.golang.org/grpc v1.85.0
	k8s.io/cri-api v0.25.3
)

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261104224025-d1e00e9f33ab // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

// The end-to-end tests' shared sandbox (tests/internal/hosttest) is hull's own.
replace github.com/hull-runtime/hull => ../..
