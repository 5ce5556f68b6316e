#include <utility>  // before Boost.Asio: Boost 1.74's awaitable.hpp needs it

#include "server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "ndjson_stream.h"
#include "sandbox_app.h"
#include "text_util.h"

namespace p2p::sandbox {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using beast::error_code;
using Clock = std::chrono::steady_clock;

constexpr size_t kChunkBytes = 256 * 1024;
constexpr size_t kBodyLimit = 1 << 20;
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kWriteTimeout = std::chrono::seconds(60);

struct ServerState {
  SandboxApp* app = nullptr;
  std::optional<net::ssl::context> ssl;
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};
  uint64_t throttle = 0;
};

void LogRequest(std::string_view method, std::string_view path, const std::string& status,
                uint64_t bytes, Clock::time_point start) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  std::fprintf(stderr, "%.*s %.*s %s %llu %lldms\n", int(method.size()), method.data(),
               int(path.size()), path.data(), status.c_str(), static_cast<unsigned long long>(bytes),
               static_cast<long long>(ms));
}

bool IsLoopback(const tcp::endpoint& peer) {
  auto a = peer.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return a.to_v6().to_v4().is_loopback();  // ::ffff:127.x
  }
  return a.is_loopback();
}

template <class Stream>
void CloseHard(Stream& stream, bool reset) {
  error_code ec;
  auto& socket = beast::get_lowest_layer(stream).socket();
  if (reset) socket.set_option(net::socket_base::linger(true, 0), ec);
  socket.close(ec);
}

// Writes the export file; returns body bytes sent, or nullopt when the connection is lost.
template <class Stream>
net::awaitable<std::optional<uint64_t>> StreamFile(Stream& stream, ServerState& st,
                                                    const AppReply& reply, unsigned version,
                                                    bool keep_alive) {
  const FileStreamSpec& spec = *reply.file;
  http::response<http::empty_body> res{http::status::ok, version};
  res.set(http::field::server, "p2p-sandbox");
  res.set(http::field::content_type, reply.content_type);
  if (spec.gzip) res.set(http::field::content_encoding, "gzip");
  res.chunked(true);
  res.keep_alive(keep_alive);
  http::response_serializer<http::empty_body> sr{res};
  error_code ec;
  beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
  co_await http::async_write_header(stream, sr, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return std::nullopt;

  const Synth& synth = st.app->synth();
  NdjsonProducer producer(synth, spec.member, Synth::Types()[spec.type_index], spec.since);
  std::optional<GzipEncoder> gzip;
  if (spec.gzip) gzip.emplace();
  std::string buffer, zipped;
  buffer.reserve(kChunkBytes + 64 * 1024);
  if (spec.bad_first_line) buffer = "{\"resourceType\":\"Observation\",\"id\":\n";
  uint64_t sent = 0;
  Clock::time_point start = Clock::now();
  net::steady_timer timer(co_await net::this_coro::executor);
  bool more = true;
  while (more) {
    more = producer.Fill(buffer, kChunkBytes);
    std::string_view out = buffer;
    if (gzip) {
      gzip->Encode(buffer, !more, zipped);
      out = zipped;
    }
    if (!out.empty()) {
      beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
      if (reply.cut) {
        char header[32];
        int n = std::snprintf(header, sizeof header, "%zx\r\n", out.size());
        std::array<net::const_buffer, 2> parts{net::buffer(header, n),
                                               net::buffer(out.data(), out.size() / 2)};
        co_await net::async_write(stream, parts, net::redirect_error(net::use_awaitable, ec));
        co_return std::nullopt;
      }
      co_await net::async_write(stream, http::make_chunk(net::buffer(out.data(), out.size())),
                                net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return std::nullopt;
      sent += out.size();
    }
    buffer.clear();
    if (st.throttle > 0) {
      auto due = start + std::chrono::microseconds(sent * 1'000'000 / st.throttle);
      if (due > Clock::now()) {
        timer.expires_at(due);
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
    }
  }
  co_await net::async_write(stream, http::make_chunk_last(),
                            net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return std::nullopt;
  co_return sent;
}

template <class Stream>
net::awaitable<void> Serve(Stream& stream, ServerState& st, bool loopback,
                           const std::string& peer_address) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    parser.header_limit(32 * 1024);
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec == http::error::end_of_stream || ec == net::error::eof) break;
    if (ec) {
      if (ec == http::error::body_limit) {
        http::response<http::string_body> res{http::status::payload_too_large, 11};
        res.body() = "request body too large\n";
        res.prepare_payload();
        res.keep_alive(false);
        co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
      }
      CloseHard(stream, false);
      co_return;
    }
    Clock::time_point start = Clock::now();
    st.in_flight++;
    struct Done {
      std::atomic<int>& n;
      ~Done() { n--; }
    } done{st.in_flight};
    const auto& req = parser.get();
    AppRequest ar;
    auto sv = [](beast::string_view v) { return std::string_view(v.data(), v.size()); };
    ar.method = sv(req.method_string());
    ar.target = sv(req.target());
    ar.authorization = sv(req[http::field::authorization]);
    ar.content_type = sv(req[http::field::content_type]);
    ar.accept_encoding = sv(req[http::field::accept_encoding]);
    ar.body = req.body();
    ar.from_loopback = loopback;
    ar.peer = peer_address;
    AppReply reply = st.app->Handle(ar);
    // Until the reply is written (or the connection dropped): /admin/stats "in_flight_peak".
    st.app->Began(reply.endpoint);
    struct Answering {
      SandboxApp& app;
      Endpoint endpoint;
      ~Answering() { app.Ended(endpoint); }
    } answering{*st.app, reply.endpoint};
    if (reply.delay.count() > 0) {
      net::steady_timer timer(co_await net::this_coro::executor);
      timer.expires_after(reply.delay);
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    if (reply.reset) {
      LogRequest(ar.method, reply.log_path, "reset", 0, start);
      CloseHard(stream, true);
      co_return;
    }
    bool keep_alive = req.keep_alive() && !reply.cut && !st.stopping;
    uint64_t bytes = 0;
    if (reply.file) {
      auto sent = co_await StreamFile(stream, st, reply, req.version(), keep_alive);
      if (!sent) {
        LogRequest(ar.method, reply.log_path, reply.cut ? "200-cut" : "200-aborted", 0, start);
        CloseHard(stream, false);
        co_return;
      }
      bytes = *sent;
    } else {
      http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
      res.set(http::field::server, "p2p-sandbox");
      res.set(http::field::content_type, reply.content_type);
      for (const auto& [name, value] : reply.headers) res.set(name, value);
      res.body() = std::move(reply.body);
      res.keep_alive(keep_alive);
      res.prepare_payload();
      bytes = res.body().size();
      beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
      if (reply.cut) {
        http::response_serializer<http::string_body> sr{res};
        co_await http::async_write_header(stream, sr, net::redirect_error(net::use_awaitable, ec));
        if (!ec) {
          co_await net::async_write(stream, net::buffer(res.body().data(), res.body().size() / 2),
                                    net::redirect_error(net::use_awaitable, ec));
        }
        LogRequest(ar.method, reply.log_path, std::to_string(reply.status) + "-cut", bytes / 2,
                   start);
        CloseHard(stream, false);
        co_return;
      }
      co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        CloseHard(stream, false);
        co_return;
      }
    }
    LogRequest(ar.method, reply.log_path, std::to_string(reply.status), bytes, start);
    if (!keep_alive) break;
  }
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  } else {
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
  }
}

net::awaitable<void> Session(tcp::socket socket, ServerState& st) {
  error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  bool loopback = !ec && IsLoopback(peer);
  const std::string peer_address = ec ? std::string() : peer.address().to_string();
  socket.set_option(tcp::no_delay(true), ec);
  if (st.ssl) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *st.ssl);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    co_await stream.async_handshake(net::ssl::stream_base::server,
                                    net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    co_await Serve(stream, st, loopback, peer_address);
  } else {
    beast::tcp_stream stream(std::move(socket));
    co_await Serve(stream, st, loopback, peer_address);
  }
}

net::awaitable<void> Accept(tcp::acceptor& acceptor, net::io_context& ioc, ServerState& st) {
  for (;;) {
    error_code ec;
    net::any_io_executor strand = net::make_strand(ioc);
    tcp::socket socket =
        co_await acceptor.async_accept(strand, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (!acceptor.is_open() || st.stopping) co_return;
      continue;
    }
    net::co_spawn(strand, Session(std::move(socket), st), net::detached);
  }
}

std::string HostForUrl(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

int RunServer(const ServerOptions& options) {
  net::io_context ioc{2};
  ServerState st;
  st.throttle = options.throttle_bytes_per_second;
  if (!options.tls_cert.empty()) {
    st.ssl.emplace(net::ssl::context::tls_server);
    error_code ec;
    st.ssl->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                        net::ssl::context::no_tlsv1_1);
    st.ssl->use_certificate_chain_file(options.tls_cert, ec);
    if (ec) {
      std::fprintf(stderr, "p2p-sandbox: --tls-cert %s: %s\n", options.tls_cert.c_str(),
                   ec.message().c_str());
      return 1;
    }
    st.ssl->use_private_key_file(options.tls_key, net::ssl::context::pem, ec);
    if (ec) {
      std::fprintf(stderr, "p2p-sandbox: --tls-key %s: %s\n", options.tls_key.c_str(),
                   ec.message().c_str());
      return 1;
    }
    if (!options.tls_client_ca.empty()) {
      // Mutual TLS: the handshake fails unless the client presents a certificate this CA signed.
      st.ssl->load_verify_file(options.tls_client_ca, ec);
      if (ec) {
        std::fprintf(stderr, "p2p-sandbox: --tls-client-ca %s: %s\n",
                     options.tls_client_ca.c_str(), ec.message().c_str());
        return 1;
      }
      st.ssl->set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
    }
  }
  error_code ec;
  auto address = net::ip::make_address(options.host, ec);
  if (ec) {
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec || results.empty()) {
      std::fprintf(stderr, "p2p-sandbox: --listen: cannot resolve %s\n", options.host.c_str());
      return 1;
    }
    address = results.begin()->endpoint().address();
  }
  tcp::acceptor acceptor(ioc);
  tcp::endpoint endpoint(address, options.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "p2p-sandbox: cannot listen on %s:%u: %s\n", options.host.c_str(),
                 unsigned(options.port), ec.message().c_str());
    return 1;
  }
  uint16_t port = acceptor.local_endpoint().port();
  std::string scheme = st.ssl ? "https" : "http";
  std::string listen_url = scheme + "://" + HostForUrl(options.host) + ":" + std::to_string(port);
  std::string public_base = options.public_base.empty() ? listen_url : options.public_base;
  if (EndsWith(public_base, ":0")) {  // "--public-base http://localhost:0": our port
    public_base.resize(public_base.size() - 1);
    public_base += std::to_string(port);
  }
  SandboxApp app(options, public_base);
  st.app = &app;

  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](error_code, int) {
    st.stopping = true;
    error_code ignored;
    acceptor.close(ignored);
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
          net::steady_timer timer(ioc);
          auto deadline = Clock::now() + std::chrono::seconds(3);
          while (st.in_flight > 0 && Clock::now() < deadline) {
            timer.expires_after(std::chrono::milliseconds(10));
            error_code e;
            co_await timer.async_wait(net::redirect_error(net::use_awaitable, e));
          }
          ioc.stop();
        },
        net::detached);
  });
  net::co_spawn(ioc, Accept(acceptor, ioc, st), net::detached);

  std::cout << "listening on " << listen_url << std::endl;  // flushed: scripts wait for it
  std::thread second([&ioc] { ioc.run(); });
  ioc.run();
  second.join();
  return 0;
}

}  // namespace p2p::sandbox
