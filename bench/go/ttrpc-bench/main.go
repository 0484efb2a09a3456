// ttrpc-bench: the Go ttrpc baseline of hvrpc-bench (containerd's ttrpc,
// from Debian), speaking the peer protocol described in bench/peer.h:
//
//	ttrpc-bench serve URI
//	ttrpc-bench client URI SIZE CONNS INFLIGHT WARM_MS RUN_MS
//
// The server decodes each EchoRequest and answers an EchoResponse with the
// same payload. The client times calls one by one with one connection and
// one call in flight; otherwise it runs INFLIGHT goroutines per
// connection, each making blocking calls. Allocations are the Go heap's
// (runtime.MemStats.Mallocs).
//
// URIs: unix:///path, tcp://HOST:PORT and, when built with the tag
// hvrpc_vsock (vsock.go, github.com/mdlayher/vsock), vsock://CID:PORT.
//
// Build offline: GO111MODULE=off GOPATH=/usr/share/gocode go build [-tags hvrpc_vsock]
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
)

func fail(format string, args ...interface{}) int {
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")
	fmt.Printf("error %s\n", msg)
	return 1
}

// listen listens on one of our URIs; it returns the address it really
// listens on (a tcp or vsock port the kernel picked).
func listen(uri string) (net.Listener, string, error) {
	switch {
	case strings.HasPrefix(uri, "unix://"):
		path := uri[len("unix://"):]
		_ = os.Remove(path) // a stale socket from an earlier run
		l, err := net.Listen("unix", path)
		return l, uri, err
	case strings.HasPrefix(uri, "tcp://"):
		l, err := net.Listen("tcp", uri[len("tcp://"):])
		if err != nil {
			return nil, "", err
		}
		return l, "tcp://" + l.Addr().String(), nil
	case strings.HasPrefix(uri, "vsock://"):
		return listenVsock(uri)
	}
	return nil, "", fmt.Errorf("%s: the Go peer knows unix, tcp and vsock", uri)
}

// dial connects to one of our URIs.
func dial(uri string) (net.Conn, error) {
	switch {
	case strings.HasPrefix(uri, "unix://"):
		return net.Dial("unix", uri[len("unix://"):])
	case strings.HasPrefix(uri, "tcp://"):
		return net.Dial("tcp", uri[len("tcp://"):])
	case strings.HasPrefix(uri, "vsock://"):
		return dialVsock(uri)
	}
	return nil, fmt.Errorf("%s: the Go peer knows unix, tcp and vsock", uri)
}

func mallocs() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.Mallocs)
}

// --- server ----------------------------------------------------------------

func echo(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var req EchoRequest
	if err := unmarshal(&req); err != nil {
		return nil, err
	}
	return &EchoResponse{Payload: req.Payload}, nil
}

func serve(uri string) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	srv, err := ttrpc.NewServer()
	if err != nil {
		return fail("new server: %v", err)
	}
	srv.Register(echoService, map[string]ttrpc.Method{echoMethod: echo})
	l, bound, err := listen(uri)
	if err != nil {
		return fail("listen %s: %v", uri, err)
	}
	go func() { _ = srv.Serve(context.Background(), l) }()
	fmt.Printf("ready %s\n", bound)
	for sig := range sigs {
		if sig != syscall.SIGUSR1 {
			break
		}
		fmt.Printf("allocs %d\n", mallocs())
	}
	_ = srv.Close()
	return 0
}

// --- client ----------------------------------------------------------------

type load struct {
	size, conns, inflight int
	warm, run             time.Duration
	clients               []*ttrpc.Client
	payload               []byte
}

func (ld *load) call(c *ttrpc.Client) error {
	var resp EchoResponse
	err := c.Call(context.Background(), echoService, echoMethod, &EchoRequest{Payload: ld.payload}, &resp)
	if err == nil && len(resp.Payload) != ld.size {
		err = errors.New("response: not the payload sent")
	}
	return err
}

// phase runs the load for d; it returns the calls completed within it and
// the time they took.
func (ld *load) phase(d time.Duration, samples *[]int64) (uint64, time.Duration, error) {
	t0 := time.Now()
	end := t0.Add(d)
	if ld.conns == 1 && ld.inflight == 1 {
		n := uint64(0)
		for now := t0; now.Before(end); n++ {
			if err := ld.call(ld.clients[0]); err != nil {
				return n, 0, err
			}
			t1 := time.Now()
			if samples != nil {
				*samples = append(*samples, int64(t1.Sub(now)))
			}
			now = t1
		}
		return n, time.Since(t0), nil
	}
	if d == 0 || ld.inflight == 0 {
		return 0, d, nil
	}
	var done uint64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, c := range ld.clients {
		for i := 0; i < ld.inflight; i++ {
			wg.Add(1)
			go func(c *ttrpc.Client) {
				defer wg.Done()
				for {
					if err := ld.call(c); err != nil {
						once.Do(func() { first = err })
						return
					}
					if !time.Now().Before(end) {
						return
					}
					atomic.AddUint64(&done, 1)
				}
			}(c)
		}
	}
	wg.Wait()
	return done, d, first
}

func client(uri string, args []string) int {
	var v [5]int
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			return fail("bad argument %q", a)
		}
		v[i] = n
	}
	ld := &load{size: v[0], conns: v[1], inflight: v[2],
		warm: time.Duration(v[3]) * time.Millisecond, run: time.Duration(v[4]) * time.Millisecond}
	ld.payload = make([]byte, ld.size)
	defer func() {
		for _, c := range ld.clients {
			_ = c.Close()
		}
	}()
	for i := 0; i < ld.conns; i++ {
		conn, err := dial(uri)
		if err != nil {
			return fail("connect %d to %s: %v", i, uri, err)
		}
		ld.clients = append(ld.clients, ttrpc.NewClient(conn))
		if err := ld.call(ld.clients[i]); err != nil {
			return fail("first call on connection %d: %v", i, err)
		}
	}
	if _, _, err := ld.phase(ld.warm, nil); err != nil {
		return fail("warm-up: %v", err)
	}
	fmt.Println("warm")
	in := bufio.NewReader(os.Stdin)
	_, _ = in.ReadString('\n')

	samples := make([]int64, 0, int(ld.run/time.Millisecond)*400+1024)
	m0 := mallocs()
	calls, elapsed, err := ld.phase(ld.run, &samples)
	allocs := mallocs() - m0
	if err != nil {
		return fail("%v", err)
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	for _, s := range samples {
		fmt.Fprintf(out, "s %d\n", s)
	}
	fmt.Fprintf(out, "result calls=%d ns=%d allocs=%d\n", calls, elapsed.Nanoseconds(), allocs)
	_ = out.Flush()
	_, _ = io.Copy(io.Discard, in)
	return 0
}

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "serve":
		os.Exit(serve(os.Args[2]))
	case len(os.Args) == 8 && os.Args[1] == "client":
		os.Exit(client(os.Args[2], os.Args[3:]))
	}
	fmt.Fprintln(os.Stderr, "usage: ttrpc-bench serve URI | client URI SIZE CONNS INFLIGHT WARM_MS RUN_MS")
	os.Exit(2)
}
