package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// callTimeout bounds every call that is not itself about deadlines, so a
// server that never answers fails the check instead of hanging it.
const callTimeout = 10 * time.Second

// strayHook counts the Go client's complaints about frames it cannot match
// to a call ("received message for unknown channel"): a server that
// answers a stream twice, or on an id never used, shows up here.
type strayHook struct{ n int64 }

func (h *strayHook) Levels() []logrus.Level { return []logrus.Level{logrus.ErrorLevel} }
func (h *strayHook) Fire(e *logrus.Entry) error {
	if strings.Contains(e.Message, "unknown channel") || strings.Contains(e.Message, "active call") {
		atomic.AddInt64(&h.n, 1)
	}
	return nil
}

// timeoutOverride, set on a call's context, replaces the timeout_nano the
// Go client derives from the context deadline: it lets a call tell the
// server "200 ms" while the client itself waits longer, to see the server
// enforce the deadline.
type timeoutOverrideKey struct{}

func overrideTimeout(ctx context.Context, req *ttrpc.Request, resp *ttrpc.Response,
	_ *ttrpc.UnaryClientInfo, invoker ttrpc.Invoker) error {
	if d, ok := ctx.Value(timeoutOverrideKey{}).(time.Duration); ok {
		req.TimeoutNano = d.Nanoseconds()
	}
	return invoker(ctx, req, resp)
}

type checker struct {
	client   *ttrpc.Client
	failed   int
	answered int64 // calls the server answered (OK or its own status)
}

func (c *checker) ok(name string) { fmt.Printf("ok %s\n", name) }
func (c *checker) fail(name, format string, args ...interface{}) {
	c.failed++
	fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
}

func (c *checker) echo(ctx context.Context, req *EchoRequest) (*EchoResponse, error) {
	var resp EchoResponse
	err := c.client.Call(ctx, echoService, echoMethod, req, &resp)
	if err == nil {
		atomic.AddInt64(&c.answered, 1)
	}
	return &resp, err
}

// expectPayload makes one call and checks the echoed payload.
func (c *checker) expectPayload(name string, payload []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	resp, err := c.echo(ctx, &EchoRequest{Payload: payload})
	switch {
	case err != nil:
		c.fail(name, "call: %v", err)
	case !bytes.Equal(resp.Payload, payload):
		c.fail(name, "sent %d bytes, got %d bytes back (or different content)", len(payload), len(resp.Payload))
	default:
		c.ok(name)
	}
}

// expectCode makes one call and checks its status code (and message when
// msg is not empty).
func (c *checker) expectCode(name, service, method string, req *EchoRequest, want codes.Code, msg string) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var resp EchoResponse
	err := c.client.Call(ctx, service, method, req, &resp)
	st := status.Convert(err)
	switch {
	case err == nil:
		c.fail(name, "call succeeded, want %v", want)
	case st.Code() != want:
		c.fail(name, "got code %v (%q), want %v", st.Code(), st.Message(), want)
	case msg != "" && st.Message() != msg:
		c.fail(name, "got message %q, want %q", st.Message(), msg)
	default:
		atomic.AddInt64(&c.answered, 1) // the server's own answer
		c.ok(name)
	}
}

func isDeadline(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
}

// check runs every check against the hvrpc.echo.v1.Echo server at addr (a
// unix socket path or vsock://CID:PORT) and returns the exit code: 0 when
// all passed. It ends with "calls answered: N over TRANSPORT", the calls
// that came back OK (the VM suite adds these up).
func check(addr string) int {
	a, err := parseAddr(addr)
	if err != nil {
		fmt.Printf("FAIL address: %v\n", err)
		return 2
	}
	stray := &strayHook{}
	logrus.AddHook(stray)

	// A watchdog: a server that hangs fails the run instead of stalling it.
	watchdog := time.AfterFunc(60*time.Second, func() {
		fmt.Println("FAIL watchdog: checks did not finish in 60 s")
		os.Exit(1)
	})
	defer watchdog.Stop()

	conn, err := dialAddr(a)
	if err != nil {
		fmt.Printf("FAIL connect: %v\n", err)
		return 1
	}
	c := &checker{client: ttrpc.NewClient(conn, ttrpc.WithUnaryClientInterceptor(overrideTimeout))}
	defer c.client.Close()
	c.ok("connect")

	// Payloads.
	c.expectPayload("payload", []byte("hello from go-ttrpc"))
	c.expectPayload("payload_empty", nil)
	big := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(big)
	c.expectPayload("payload_1mib", big)

	// Frame size limits (4 MiB of frame data, the ttrpc default on both
	// sides). Go ttrpc 1.1 does not check sizes when sending, so an
	// oversized request really goes on the wire: the server must discard
	// it, answer that stream RESOURCE_EXHAUSTED and keep the connection.
	const maxFrame = 4 << 20
	near := make([]byte, maxFrame-256)
	rand.New(rand.NewSource(2)).Read(near)
	c.expectPayload("payload_near_max", near)
	c.expectCode("oversized_request", echoService, echoMethod,
		&EchoRequest{Payload: make([]byte, maxFrame+1)}, codes.ResourceExhausted, "")
	c.expectPayload("after_oversized_request", []byte("still alive"))
	c.expectCode("oversized_response", echoService, echoMethod,
		&EchoRequest{ResponseSize: maxFrame + 1}, codes.ResourceExhausted, "")
	c.expectPayload("after_oversized_response", []byte("still alive"))

	// Metadata, the peer identity, response_size.
	{
		md := ttrpc.MD{}
		md.Set("x-hvrpc-first", "one")
		md.Set("x-hvrpc-second", "two")
		ctx, cancel := context.WithTimeout(ttrpc.WithMetadata(context.Background(), md), callTimeout)
		resp, err := c.echo(ctx, &EchoRequest{Payload: []byte("md")})
		cancel()
		if err != nil {
			c.fail("metadata", "call: %v", err)
			c.fail("peer", "call: %v", err)
		} else {
			if resp.Metadata["x-hvrpc-first"] != "one" || resp.Metadata["x-hvrpc-second"] != "two" {
				c.fail("metadata", "sent x-hvrpc-first=one x-hvrpc-second=two, got %v", resp.Metadata)
			} else {
				c.ok("metadata")
			}
			exact, prefix := wantPeer(a, conn)
			switch {
			case exact != "" && resp.Peer != exact:
				c.fail("peer", "got peer %q, want %q (this connection's own address)", resp.Peer, exact)
			case exact == "" && !strings.HasPrefix(resp.Peer, prefix):
				c.fail("peer", "got peer %q, want %s...", resp.Peer, prefix)
			default:
				c.ok("peer")
			}
		}
	}
	{
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		resp, err := c.echo(ctx, &EchoRequest{Payload: []byte("ignored"), ResponseSize: 100000})
		cancel()
		switch {
		case err != nil:
			c.fail("response_size", "call: %v", err)
		case len(resp.Payload) != 100000:
			c.fail("response_size", "asked for 100000 bytes, got %d", len(resp.Payload))
		default:
			c.ok("response_size")
		}
	}

	// Errors.
	c.expectCode("fail_code", echoService, echoMethod,
		&EchoRequest{FailCode: int32(codes.NotFound), FailMessage: "no such widget"},
		codes.NotFound, "no such widget")
	c.expectCode("unknown_method", echoService, "NoSuchMethod", &EchoRequest{}, codes.Unimplemented, "")
	c.expectCode("unknown_service", "hvrpc.nosuch.v1.Nothing", echoMethod, &EchoRequest{}, codes.Unimplemented, "")

	// Deadlines. The slow calls' own answers, if the server sent them,
	// would come 2 s after they started: remember when, to look for them.
	slowStarted := time.Now()
	{
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		t0 := time.Now()
		_, err := c.echo(ctx, &EchoRequest{Payload: []byte("slow"), DelayMs: 2000})
		took := time.Since(t0)
		cancel()
		switch {
		case err == nil:
			c.fail("deadline_client", "call succeeded after %v, want DeadlineExceeded", took)
		case !isDeadline(err):
			c.fail("deadline_client", "got %v after %v, want DeadlineExceeded", err, took)
		case took > 1500*time.Millisecond:
			c.fail("deadline_client", "returned after %v, want ~200 ms", took)
		default:
			c.ok("deadline_client")
		}
	}
	{
		// timeout_nano says 200 ms, the client waits up to 5 s: the
		// DEADLINE_EXCEEDED must come from the server, on the wire.
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(),
			timeoutOverrideKey{}, 200*time.Millisecond), 5*time.Second)
		t0 := time.Now()
		_, err := c.echo(ctx, &EchoRequest{Payload: []byte("slow"), DelayMs: 2000})
		took := time.Since(t0)
		cancel()
		switch {
		case err == nil:
			c.fail("deadline_server", "call succeeded after %v, want DeadlineExceeded", took)
		case status.Code(err) != codes.DeadlineExceeded:
			c.fail("deadline_server", "got %v after %v, want status DeadlineExceeded from the server", err, took)
		case took > 1500*time.Millisecond:
			c.fail("deadline_server", "answered after %v, want ~200 ms", took)
		default:
			c.ok("deadline_server")
		}
	}
	c.expectPayload("after_deadline", []byte("still alive"))

	// Many calls at once on the one connection, answered out of order.
	{
		const n = 32
		var wg sync.WaitGroup
		errs := make([]string, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				defer cancel()
				p := []byte(fmt.Sprintf("call-%d", i))
				resp, err := c.echo(ctx, &EchoRequest{Payload: p, DelayMs: uint32((n - i) % 7 * 10)})
				if err != nil {
					errs[i] = err.Error()
				} else if !bytes.Equal(resp.Payload, p) {
					errs[i] = fmt.Sprintf("got %q", resp.Payload)
				}
			}(i)
		}
		wg.Wait()
		bad := 0
		first := ""
		for i, e := range errs {
			if e != "" {
				if bad == 0 {
					first = fmt.Sprintf("call %d: %s", i, e)
				}
				bad++
			}
		}
		if bad > 0 {
			c.fail("concurrent", "%d of %d calls failed; %s", bad, n, first)
		} else {
			c.ok("concurrent")
		}
	}

	// Wait past the moment the slow handlers finish: a server that answers
	// an expired call a second time shows up as a stray frame.
	if wait := 2500*time.Millisecond - time.Since(slowStarted); wait > 0 {
		time.Sleep(wait)
	}
	c.expectPayload("after_late_answers", []byte("still alive"))
	if n := atomic.LoadInt64(&stray.n); n != 0 {
		c.fail("no_stray_frames", "the client received %d frame(s) for calls already answered or never made", n)
	} else {
		c.ok("no_stray_frames")
	}

	fmt.Printf("calls answered: %d over %s\n", atomic.LoadInt64(&c.answered), a.transport())
	if c.failed > 0 {
		fmt.Printf("%d check(s) failed\n", c.failed)
		return 1
	}
	return 0
}
