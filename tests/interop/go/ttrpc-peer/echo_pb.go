// Hand-written Go types for proto/hvrpc/echo/v1/echo.proto.
//
// No protoc-gen-go is available offline, so these are written in the
// golang/protobuf v1 struct-tag style that gogo's reflection-based
// proto.Marshal / proto.Unmarshal (what Go ttrpc's codec uses) handles.
// Only field numbers and wire types matter on the wire; keep them in step
// with echo.proto. `ttrpc-peer selftest-encoding` checks them against
// bytes produced by protoc --encode.

package main

import "fmt"

// EchoRequest is hvrpc.echo.v1.EchoRequest.
type EchoRequest struct {
	Payload      []byte `protobuf:"bytes,1,opt,name=payload,proto3"`
	ResponseSize uint32 `protobuf:"varint,2,opt,name=response_size,json=responseSize,proto3"`
	DelayMs      uint32 `protobuf:"varint,3,opt,name=delay_ms,json=delayMs,proto3"`
	FailCode     int32  `protobuf:"varint,4,opt,name=fail_code,json=failCode,proto3"`
	FailMessage  string `protobuf:"bytes,5,opt,name=fail_message,json=failMessage,proto3"`
}

func (m *EchoRequest) Reset()         { *m = EchoRequest{} }
func (m *EchoRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*EchoRequest) ProtoMessage()    {}

// EchoResponse is hvrpc.echo.v1.EchoResponse.
type EchoResponse struct {
	Payload  []byte            `protobuf:"bytes,1,opt,name=payload,proto3"`
	Metadata map[string]string `protobuf:"bytes,2,rep,name=metadata,proto3" protobuf_key:"bytes,1,opt,name=key,proto3" protobuf_val:"bytes,2,opt,name=value,proto3"`
	Peer     string            `protobuf:"bytes,3,opt,name=peer,proto3"`
}

func (m *EchoResponse) Reset() { *m = EchoResponse{} }
func (m *EchoResponse) String() string {
	return fmt.Sprintf("{Payload:%d bytes Metadata:%v Peer:%q}", len(m.Payload), m.Metadata, m.Peer)
}
func (*EchoResponse) ProtoMessage() {}

const (
	echoService = "hvrpc.echo.v1.Echo"
	echoMethod  = "Echo"
)
