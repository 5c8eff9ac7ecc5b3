package demoapp

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// EchoServiceName is the gRPC service name of the echo service.
const EchoServiceName = "trellis.demo.v1.Echo"

// The echo service's full method names.
const (
	EchoMethod       = "/" + EchoServiceName + "/Echo"
	EchoStreamMethod = "/" + EchoServiceName + "/EchoStream"
)

// StreamCount is how many messages EchoStream sends for one request.
const StreamCount = 5

// EchoServer is the echo service: messages are google.protobuf.StringValue, so no generated code
// is needed and grpc's default proto codec applies.
type EchoServer interface {
	// Echo answers "<service>/<version>: <message>".
	Echo(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	// EchoStream sends StreamCount answers "<service>/<version> #<i>: <message>".
	EchoStream(in *wrapperspb.StringValue, stream grpc.ServerStream) error
}

// EchoServiceDesc describes the echo service for grpc.Server.RegisterService.
var EchoServiceDesc = grpc.ServiceDesc{
	ServiceName: EchoServiceName,
	HandlerType: (*EchoServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return srv.(EchoServer).Echo(ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: EchoMethod}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return srv.(EchoServer).Echo(ctx, req.(*wrapperspb.StringValue))
			})
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "EchoStream",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(EchoServer).EchoStream(in, stream)
		},
	}},
}

type echoServer struct{ app *App }

func (e *echoServer) who() string {
	if e.app.cfg.Version == "" {
		return e.app.cfg.Service
	}
	return e.app.cfg.Service + "/" + e.app.cfg.Version
}

func (e *echoServer) Echo(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	if err := e.app.inject(ctx); err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-service", e.app.cfg.Service, "x-version", e.app.cfg.Version))
	return wrapperspb.String(e.who() + ": " + in.GetValue()), nil
}

func (e *echoServer) EchoStream(in *wrapperspb.StringValue, stream grpc.ServerStream) error {
	if err := e.app.inject(stream.Context()); err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	_ = stream.SetHeader(metadata.Pairs("x-service", e.app.cfg.Service, "x-version", e.app.cfg.Version))
	for i := 1; i <= StreamCount; i++ {
		if err := stream.SendMsg(wrapperspb.String(fmt.Sprintf("%s #%d: %s", e.who(), i, in.GetValue()))); err != nil {
			return err
		}
	}
	return nil
}

// Echo calls the echo service's unary method on conn.
func Echo(ctx context.Context, conn grpc.ClientConnInterface, msg string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	if err := conn.Invoke(ctx, EchoMethod, wrapperspb.String(msg), out, opts...); err != nil {
		return "", err
	}
	return out.GetValue(), nil
}

// EchoStream calls the echo service's server-streaming method on conn and collects every answer.
func EchoStream(ctx context.Context, conn grpc.ClientConnInterface, msg string, opts ...grpc.CallOption) ([]string, error) {
	desc := &EchoServiceDesc.Streams[0]
	stream, err := conn.NewStream(ctx, desc, EchoStreamMethod, opts...)
	if err != nil {
		return nil, err
	}
	if err := stream.SendMsg(wrapperspb.String(msg)); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	var out []string
	for {
		m := new(wrapperspb.StringValue)
		if err := stream.RecvMsg(m); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, err
		}
		out = append(out, m.GetValue())
	}
}
