package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// With request metadata key reportDeadlineKey (any value), the response
// metadata also carries deadlineKey: the milliseconds left until the
// request's deadline when the handler started (before delay_ms), or "none".
const (
	reportDeadlineKey = "x-hvrpc-report-deadline"
	deadlineKey       = "x-hvrpc-deadline-ms"
)

// echo implements hvrpc.echo.v1.Echo/Echo with the semantics of echo.proto.
// The delay is served in full, as echo.proto says ("wait this long before
// answering"), even when the caller's deadline passes first: the late
// answer is what a slow real-world handler sends, and a client must
// tolerate a response for a call it has already given up on.
func echo(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var req EchoRequest
	if err := unmarshal(&req); err != nil {
		return nil, err
	}
	resp := &EchoResponse{Peer: "go-ttrpc", Metadata: map[string]string{}}
	if md, ok := ttrpc.GetMetadata(ctx); ok {
		for k, vs := range md {
			if len(vs) > 0 {
				resp.Metadata[k] = vs[0] // repeated keys: the first value
			}
		}
		// Test-only extension: report the deadline the request carried
		// (timeout_nano), so a client can check it sends the right units.
		if _, ok := md[reportDeadlineKey]; ok {
			if dl, ok := ctx.Deadline(); ok {
				resp.Metadata[deadlineKey] = strconv.FormatInt(time.Until(dl).Milliseconds(), 10)
			} else {
				resp.Metadata[deadlineKey] = "none"
			}
		}
	}
	if req.DelayMs > 0 {
		time.Sleep(time.Duration(req.DelayMs) * time.Millisecond)
	}
	if req.FailCode != 0 {
		return nil, status.Error(codes.Code(req.FailCode), req.FailMessage)
	}
	if req.ResponseSize != 0 {
		resp.Payload = make([]byte, req.ResponseSize)
		for i := range resp.Payload {
			resp.Payload[i] = byte(i)
		}
	} else {
		resp.Payload = req.Payload
	}
	return resp, nil
}

// serve runs a Go ttrpc server at addr (a unix socket path or
// vsock://CID:PORT) until SIGTERM or SIGINT. It prints READY on stdout once
// it is listening.
func serve(addr string) int {
	a, err := parseAddr(addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: %v\n", err)
		return 2
	}
	srv, err := ttrpc.NewServer()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: new server: %v\n", err)
		return 1
	}
	srv.Register(echoService, map[string]ttrpc.Method{echoMethod: echo})

	l, err := listenAddr(a)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: listen %s: %v\n", a, err)
		return 1
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), l) }()
	fmt.Println("READY")

	select {
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "ttrpc-peer: %v, stopping\n", sig)
		_ = srv.Close() // closes the listener (removing the socket) and every connection
		<-served
		return 0
	case err := <-served:
		if err != nil && !errors.Is(err, ttrpc.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "ttrpc-peer: serve: %v\n", err)
			return 1
		}
		return 0
	}
}
