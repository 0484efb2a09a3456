// bench/grpc/grpc_peer.cc - the gRPC C++ baseline of hvrpc-bench.
//
//   hvrpc-bench-grpc serve sync|callback URI
//   hvrpc-bench-grpc client URI SIZE CONNS INFLIGHT WARM_MS RUN_MS
//
// Speaks the peer protocol of bench/peer.h (through its C side). The
// service is hvrpc.echo.v1.Echo, generated from proto/hvrpc/echo/v1/
// echo.proto by protoc's C++ and gRPC plugins; both servers copy the
// request's payload into the response, as ours does. The client makes
// blocking calls when it times them one by one and uses the callback API
// to keep many in flight; every connection is a channel of its own.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "alloc_count.h"
#include "hvrpc/echo/v1/echo.grpc.pb.h"
#include "peer.h"

namespace
{

using hvrpc::echo::v1::EchoRequest;
using hvrpc::echo::v1::EchoResponse;
using Stub = hvrpc::echo::v1::Echo::Stub;

// gRPC's form of one of our URIs: unix:PATH, or HOST:PORT for tcp.
bool to_target(const std::string &uri, std::string *target, bool *tcp)
{
    *tcp = uri.rfind("tcp://", 0) == 0;
    if (*tcp)
        *target = uri.substr(6);
    else if (uri.rfind("unix://", 0) == 0)
        *target = "unix:" + uri.substr(7);
    else
        return false;
    return true;
}

// --- servers ------------------------------------------------------------

class SyncEcho final : public hvrpc::echo::v1::Echo::Service
{
    grpc::Status Echo(grpc::ServerContext *, const EchoRequest *req,
                      EchoResponse *resp) override
    {
        resp->set_payload(req->payload());
        return grpc::Status::OK;
    }
};

class CallbackEcho final : public hvrpc::echo::v1::Echo::CallbackService
{
    grpc::ServerUnaryReactor *Echo(grpc::CallbackServerContext *ctx,
                                   const EchoRequest *req,
                                   EchoResponse *resp) override
    {
        resp->set_payload(req->payload());
        grpc::ServerUnaryReactor *r = ctx->DefaultReactor();
        r->Finish(grpc::Status::OK);
        return r;
    }
};

int serve(const std::string &mode, const std::string &uri)
{
    peer_serve_init();
    std::string target;
    bool tcp;
    if (!to_target(uri, &target, &tcp))
        return peer_error("%s: the gRPC peer knows unix and tcp", uri.c_str());
    SyncEcho sync;
    CallbackEcho callback;
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort(target, grpc::InsecureServerCredentials(),
                       tcp ? &port : nullptr);
    if (mode == "sync")
        b.RegisterService(&sync);
    else if (mode == "callback")
        b.RegisterService(&callback);
    else
        return peer_error("unknown server kind \"%s\"", mode.c_str());
    std::unique_ptr<grpc::Server> srv = b.BuildAndStart();
    if (!srv || (tcp && port == 0))
        return peer_error("gRPC server on %s did not start", uri.c_str());
    std::string bound = uri;
    if (tcp)
        bound = "tcp://" + target.substr(0, target.rfind(':')) + ":" +
                std::to_string(port);
    peer_serve_ready(bound.c_str());
    peer_serve_wait();
    srv->Shutdown();
    return 0;
}

// --- client -------------------------------------------------------------

struct Load {
    const peer_load *pl = nullptr;
    std::vector<std::unique_ptr<Stub>> stubs;
    std::string payload;
    std::mutex mu;
    std::condition_variable cv;
    size_t outstanding = 0; // calls in flight; mu
    int64_t end_ns = 0;
    std::atomic<uint64_t> done{0}; // calls completed before end_ns
    std::atomic<bool> failed{false};
    std::string why; // the first failure; mu
};

void fail(Load *ld, const std::string &why)
{
    std::lock_guard<std::mutex> g(ld->mu);
    if (!ld->failed.exchange(true))
        ld->why = why;
}

bool check(Load *ld, const grpc::Status &s, const EchoResponse &resp)
{
    if (!s.ok())
        fail(ld, "call: " + s.error_message());
    else if (resp.payload().size() != ld->pl->size)
        fail(ld, "response: not the payload sent");
    else
        return true;
    return false;
}

bool call_once(Load *ld, Stub *stub)
{
    grpc::ClientContext ctx;
    EchoRequest req;
    EchoResponse resp;
    req.set_payload(ld->payload);
    return check(ld, stub->Echo(&ctx, req, &resp), resp);
}

struct AsyncCall {
    grpc::ClientContext ctx;
    EchoRequest req;
    EchoResponse resp;
};

void start_async(Load *ld, Stub *stub)
{
    auto *c = new AsyncCall;
    c->req.set_payload(ld->payload);
    stub->async()->Echo(&c->ctx, &c->req, &c->resp,
                        [ld, stub, c](grpc::Status s) {
                            bool ok = check(ld, s, c->resp);
                            delete c;
                            if (ok && peer_now_ns() < ld->end_ns) {
                                ld->done++;
                                start_async(ld, stub);
                                return;
                            }
                            std::lock_guard<std::mutex> g(ld->mu);
                            if (--ld->outstanding == 0)
                                ld->cv.notify_one();
                        });
}

// Runs the load for ms; returns the calls completed within it.
uint64_t run_phase(Load *ld, unsigned ms, peer_samples *samples,
                   int64_t *elapsed)
{
    const peer_load *pl = ld->pl;
    int64_t t0 = peer_now_ns();
    ld->end_ns = t0 + int64_t(ms) * 1000000;
    ld->done = 0;
    if (peer_load_timed(pl)) {
        auto first = [](void *arg) {
            auto *l = static_cast<Load *>(arg);
            return call_once(l, l->stubs[0].get()) ? 0 : -1;
        };
        int64_t n = peer_run_timed(first, ld, ld->end_ns, samples);
        *elapsed = peer_now_ns() - t0;
        return n < 0 ? 0 : uint64_t(n);
    }
    if (ms && pl->inflight) {
        ld->outstanding = size_t(pl->conns) * pl->inflight;
        for (auto &stub : ld->stubs)
            for (unsigned i = 0; i < pl->inflight; i++)
                start_async(ld, stub.get());
        std::unique_lock<std::mutex> g(ld->mu);
        ld->cv.wait(g, [ld] { return ld->outstanding == 0; });
    }
    *elapsed = int64_t(ms) * 1000000;
    return ld->done;
}

int client(const std::string &uri, const peer_load *pl)
{
    std::string target;
    bool tcp;
    if (!to_target(uri, &target, &tcp))
        return peer_error("%s: the gRPC peer knows unix and tcp", uri.c_str());
    Load ld;
    ld.pl = pl;
    ld.payload.assign(pl->size, '\0');
    for (unsigned i = 0; i < pl->conns; i++) {
        // A channel of its own, on a connection of its own.
        grpc::ChannelArguments args;
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
        args.SetInt("hvrpc.bench.connection", int(i));
        ld.stubs.push_back(
            hvrpc::echo::v1::Echo::NewStub(grpc::CreateCustomChannel(
                target, grpc::InsecureChannelCredentials(), args)));
        if (!call_once(&ld, ld.stubs.back().get()))
            return peer_error("first call on connection %u: %s", i,
                              ld.why.c_str());
    }
    int64_t elapsed;
    run_phase(&ld, pl->warm_ms, nullptr, &elapsed);
    if (ld.failed)
        return peer_error("%s", ld.why.c_str());
    peer_client_warm();
    peer_samples samples;
    if (peer_samples_init(&samples, pl->run_ms) != 0)
        return peer_error("out of memory");
    uint64_t a0 = alloc_count_get();
    uint64_t calls = run_phase(&ld, pl->run_ms, &samples, &elapsed);
    int64_t allocs =
        alloc_count_enabled() ? int64_t(alloc_count_get() - a0) : -1;
    int rc = 0;
    if (ld.failed)
        rc = peer_error("%s", ld.why.c_str());
    else
        peer_client_result(&samples, calls, elapsed, allocs);
    peer_samples_free(&samples);
    return rc;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc == 4 && std::strcmp(argv[1], "serve") == 0)
        return serve(argv[2], argv[3]);
    if (argc == 3 + PEER_LOAD_ARGS && std::strcmp(argv[1], "client") == 0) {
        peer_load l;
        if (peer_parse_load(argv + 3, &l) != 0)
            return 1;
        return client(argv[2], &l);
    }
    std::fprintf(stderr, "usage: hvrpc-bench-grpc serve sync|callback URI\n"
                         "       hvrpc-bench-grpc client URI SIZE CONNS "
                         "INFLIGHT WARM_MS RUN_MS\n");
    return 2;
}
