// ttrpc-peer: a real ttrpc peer (containerd's Go ttrpc) for hvrpc's
// interop tests.
//
//	ttrpc-peer serve ADDR       serve hvrpc.echo.v1.Echo at ADDR: a unix
//	                            socket path, or vsock://CID:PORT (CID a
//	                            number, any or local; see addr.go);
//	                            prints READY once listening, exits 0 on
//	                            SIGTERM / SIGINT. Test-only extension: with
//	                            request metadata x-hvrpc-report-deadline,
//	                            the response metadata also carries
//	                            x-hvrpc-deadline-ms (ms left, or "none")
//	ttrpc-peer check ADDR       call the hvrpc.echo.v1.Echo server at
//	                            ADDR; one line per check ("ok NAME" or
//	                            "FAIL NAME: detail"), then "calls answered:
//	                            N over unix|vsock"; exit 1 if any failed
//	ttrpc-peer decode-request   read a binary EchoRequest on stdin, print
//	                            its fields (checks our Go types against
//	                            protoc --encode)
//	ttrpc-peer encode-response  write a fixed EchoResponse to stdout (for
//	                            protoc --decode)
//
// Build offline: GO111MODULE=off GOPATH=/usr/share/gocode go build
// (needs golang-github-containerd-ttrpc-dev and
// golang-github-mdlayher-vsock-dev)
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/gogo/protobuf/proto"
)

func usage() int {
	fmt.Fprintln(os.Stderr, "usage: ttrpc-peer serve ADDR | check ADDR | decode-request | encode-response (ADDR: a unix socket path or vsock://CID:PORT)")
	return 2
}

func decodeRequest() int {
	b, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: read stdin: %v\n", err)
		return 1
	}
	var req EchoRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: unmarshal EchoRequest: %v\n", err)
		return 1
	}
	fmt.Printf("payload=%q response_size=%d delay_ms=%d fail_code=%d fail_message=%q\n",
		req.Payload, req.ResponseSize, req.DelayMs, req.FailCode, req.FailMessage)
	return 0
}

func encodeResponse() int {
	resp := &EchoResponse{
		Payload:  []byte("pay\x00load"),
		Metadata: map[string]string{"alpha": "1", "beta": "two"},
		Peer:     "go-ttrpc",
	}
	buf := proto.NewBuffer(nil)
	buf.SetDeterministic(true) // map entries in key order
	if err := buf.Marshal(resp); err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: marshal EchoResponse: %v\n", err)
		return 1
	}
	if _, err := os.Stdout.Write(buf.Bytes()); err != nil {
		return 1
	}
	return 0
}

func main() {
	if len(os.Args) < 2 {
		os.Exit(usage())
	}
	switch mode := os.Args[1]; {
	case mode == "serve" && len(os.Args) == 3:
		os.Exit(serve(os.Args[2]))
	case mode == "check" && len(os.Args) == 3:
		os.Exit(check(os.Args[2]))
	case mode == "decode-request" && len(os.Args) == 2:
		os.Exit(decodeRequest())
	case mode == "encode-response" && len(os.Args) == 2:
		os.Exit(encodeResponse())
	default:
		os.Exit(usage())
	}
}
