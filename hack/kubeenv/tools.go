//go:build tools

// Package tools pins the Kubernetes control-plane binaries that Trellis's integration tests run:
// kube-apiserver, etcd and kubectl, built from their Go modules by build.sh.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
