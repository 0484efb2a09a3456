//go:build !hvrpc_vsock

package main

import (
	"fmt"
	"net"
)

// Without github.com/mdlayher/vsock (golang-github-mdlayher-vsock-dev) the
// peer is built without vsock; hvrpc-bench then skips it on vsock.

func listenVsock(uri string) (net.Listener, string, error) {
	return nil, "", fmt.Errorf("%s: this ttrpc-bench was built without vsock", uri)
}

func dialVsock(uri string) (net.Conn, error) {
	return nil, fmt.Errorf("%s: this ttrpc-bench was built without vsock", uri)
}
