package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/mdlayher/vsock"
)

// Where the peer listens or connects: a unix socket path, or
// vsock://CID:PORT (AF_VSOCK; CID a number or any, hypervisor, local, host;
// PORT a number) as in hvrpc's address URIs. The QEMU guest of tests/vm
// uses vsock: servers on CID any, clients to CID 1 (vsock_loopback).
type peerAddr struct {
	unixPath string
	vsock    bool
	cid      uint32
	port     uint32
}

const vsockCIDAny = 0xFFFFFFFF

func parseAddr(s string) (peerAddr, error) {
	if !strings.HasPrefix(s, "vsock://") {
		if s == "" {
			return peerAddr{}, fmt.Errorf("empty address")
		}
		return peerAddr{unixPath: s}, nil
	}
	cidText, portText, ok := strings.Cut(strings.TrimPrefix(s, "vsock://"), ":")
	if !ok {
		return peerAddr{}, fmt.Errorf("%s: missing :PORT", s)
	}
	a := peerAddr{vsock: true}
	switch strings.ToLower(cidText) {
	case "any":
		a.cid = vsockCIDAny
	case "hypervisor":
		a.cid = 0
	case "local":
		a.cid = 1
	case "host":
		a.cid = 2
	default:
		n, err := strconv.ParseUint(cidText, 10, 32)
		if err != nil {
			return peerAddr{}, fmt.Errorf("%s: bad CID %q", s, cidText)
		}
		a.cid = uint32(n)
	}
	n, err := strconv.ParseUint(portText, 10, 32)
	if err != nil {
		return peerAddr{}, fmt.Errorf("%s: bad port %q", s, portText)
	}
	a.port = uint32(n)
	return a, nil
}

func (a peerAddr) String() string {
	if a.vsock {
		return fmt.Sprintf("vsock://%d:%d", a.cid, a.port)
	}
	return a.unixPath
}

// transport names the address kind in the "calls answered" line.
func (a peerAddr) transport() string {
	if a.vsock {
		return "vsock"
	}
	return "unix"
}

func listenAddr(a peerAddr) (net.Listener, error) {
	if a.vsock {
		return vsock.ListenContextID(a.cid, a.port, nil)
	}
	_ = os.Remove(a.unixPath) // a stale socket from an earlier run
	return net.Listen("unix", a.unixPath)
}

func dialAddr(a peerAddr) (net.Conn, error) {
	if a.vsock {
		return vsock.Dial(a.cid, a.port, nil)
	}
	return net.Dial("unix", a.unixPath)
}

// wantPeer is the identity an hvrpc server must report for conn, or "" when
// only the prefix can be known (unix: the server names our credentials).
func wantPeer(a peerAddr, conn net.Conn) (exact, prefix string) {
	if !a.vsock {
		return "", "unix:uid="
	}
	local, ok := conn.LocalAddr().(*vsock.Addr)
	if !ok {
		return "", "vsock:"
	}
	cid := local.ContextID
	switch {
	case a.cid == 1:
		// Over vsock_loopback the server sees CID 1, whatever name the
		// local end was bound under.
		cid = 1
	case cid == vsockCIDAny:
		// A connect binds the local end to CID any: the server sees this
		// machine's own CID (a guest's, across virtio-vsock).
		own, err := vsock.ContextID()
		if err != nil {
			return "", "vsock:"
		}
		cid = own
	}
	return fmt.Sprintf("vsock:%d:%d", cid, local.Port), ""
}
