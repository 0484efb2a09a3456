// Hand-written Go types for the messages of proto/hvrpc/echo/v1/echo.proto,
// as far as the benchmark uses them (the payload). No protoc-gen-go is
// available offline; gogo's reflection-based proto.Marshal, which Go
// ttrpc's codec uses, handles golang/protobuf v1 struct tags. Fields not
// declared here are skipped when decoding.

package main

import "fmt"

// EchoRequest is hvrpc.echo.v1.EchoRequest.
type EchoRequest struct {
	Payload []byte `protobuf:"bytes,1,opt,name=payload,proto3"`
}

func (m *EchoRequest) Reset()         { *m = EchoRequest{} }
func (m *EchoRequest) String() string { return fmt.Sprintf("{Payload:%d bytes}", len(m.Payload)) }
func (*EchoRequest) ProtoMessage()    {}

// EchoResponse is hvrpc.echo.v1.EchoResponse.
type EchoResponse struct {
	Payload []byte `protobuf:"bytes,1,opt,name=payload,proto3"`
}

func (m *EchoResponse) Reset()         { *m = EchoResponse{} }
func (m *EchoResponse) String() string { return fmt.Sprintf("{Payload:%d bytes}", len(m.Payload)) }
func (*EchoResponse) ProtoMessage()    {}

const (
	echoService = "hvrpc.echo.v1.Echo"
	echoMethod  = "Echo"
)
