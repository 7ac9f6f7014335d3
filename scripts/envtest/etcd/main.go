// Command etcd is etcd's own server (etcdmain), built from the Go module proxy for the
// real API server scripts/envtest.sh starts.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
