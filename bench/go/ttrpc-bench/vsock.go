//go:build hvrpc_vsock

package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/mdlayher/vsock"
)

const (
	vsockAny   = 0xFFFFFFFF // VMADDR_CID_ANY and VMADDR_PORT_ANY
	vsockLocal = 1          // VMADDR_CID_LOCAL: vsock_loopback
)

// parseVsock reads vsock://CID:PORT as hvrpc does, for what the benchmark
// uses: CID any, local or a number; PORT any or a number.
func parseVsock(uri string) (cid, port uint32, err error) {
	cidText, portText, ok := strings.Cut(strings.TrimPrefix(uri, "vsock://"), ":")
	if !ok {
		return 0, 0, fmt.Errorf("%s: missing :PORT", uri)
	}
	num := func(text string, named map[string]uint32) (uint32, error) {
		if v, ok := named[strings.ToLower(text)]; ok {
			return v, nil
		}
		n, err := strconv.ParseUint(text, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%s: bad %q", uri, text)
		}
		return uint32(n), nil
	}
	if cid, err = num(cidText, map[string]uint32{"any": vsockAny, "local": vsockLocal}); err != nil {
		return 0, 0, err
	}
	port, err = num(portText, map[string]uint32{"any": vsockAny})
	return cid, port, err
}

func listenVsock(uri string) (net.Listener, string, error) {
	cid, port, err := parseVsock(uri)
	if err != nil {
		return nil, "", err
	}
	l, err := vsock.ListenContextID(cid, port, nil)
	if err != nil {
		return nil, "", err
	}
	// The port the kernel picked for "any" (the listener asks getsockname).
	bound := l.Addr().(*vsock.Addr)
	host := "any"
	if cid != vsockAny {
		host = strconv.FormatUint(uint64(cid), 10)
	}
	return l, fmt.Sprintf("vsock://%s:%d", host, bound.Port), nil
}

func dialVsock(uri string) (net.Conn, error) {
	cid, port, err := parseVsock(uri)
	if err != nil {
		return nil, err
	}
	return vsock.Dial(cid, port, nil)
}
