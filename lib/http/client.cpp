#include "http/client.h"

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>

#include "http/body_framer.h"
#include "http/connection.h"
#include "http/gzip_decoder.h"
#include "http/slot_pool.h"

namespace p2p::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using detail::Connection;
using detail::PhaseError;

std::string_view Response::Get(std::string_view lower_name) const {
  for (const Header& h : headers) {
    if (h.name == lower_name) return h.value;
  }
  return {};
}

namespace {

// Beast's largest single read (http::read_some), and ours past the header (ReadBodyDirect).
constexpr size_t kBodyReadBytes = 64 * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The peer went away: the stale keep-alive case when nothing was received yet.
bool IsClosedByPeer(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated;
}

Error HeaderError(std::string_view what, const error_code& ec, const ClientOptions& options,
                  std::chrono::milliseconds timeout) {
  if (ec == bhttp::error::header_limit) {
    return MakeError(ErrorKind::kTooLarge, std::string(what) + ": response header over " +
                                               std::to_string(options.max_header_bytes) + " bytes");
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
      !IsClosedByPeer(ec)) {
    return MakeError(ErrorKind::kProtocol,
                     std::string(what) + ": bad response header: " + ec.message());
  }
  return PhaseError(what, "read header", ec, timeout);
}

// `content_length` and `chunked`: the response's framing.
Error BodyError(std::string_view what, const error_code& ec,
                std::optional<uint64_t> content_length, bool chunked, uint64_t received,
                std::chrono::milliseconds timeout) {
  std::string w(what);
  if (IsClosedByPeer(ec)) {
    if (content_length) {
      return MakeError(ErrorKind::kTruncated,
                       w + ": body truncated after " + std::to_string(received) + " of " +
                           std::to_string(*content_length) + " bytes");
    }
    if (chunked) {
      return MakeError(ErrorKind::kTruncated,
                       w + ": chunked body cut after " + std::to_string(received) + " bytes");
    }
    return MakeError(ErrorKind::kTruncated,
                     w + ": body cut after " + std::to_string(received) + " bytes");
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
    return MakeError(ErrorKind::kProtocol, w + ": bad response body: " + ec.message());
  }
  return PhaseError(what, "read body", ec, timeout);
}

// The body after the header, per its framing, straight into `sink`: see BodyFramer. What Beast
// read past the header goes first, copied; then each socket read (up to kBodyReadBytes) lands
// where the sink asks (BodySink::Buffer) or in the connection's scratch buffer, and the body
// bytes among it, moved to its front, are passed on from there. A server that sends more than
// its framing said leaves those bytes unread or dropped and the connection closed rather than
// reused.
asio::awaitable<Result<void>> ReadBodyDirect(Connection& conn, detail::ResponseParser& parser,
                                             BodySink& sink, const std::string& what,
                                             std::chrono::milliseconds timeout) {
  detail::BodyFramer framer = parser.chunked()
                                  ? detail::BodyFramer::Chunked()
                                  : detail::BodyFramer::Length(parser.content_length().value());
  std::vector<char>& scratch = conn.body_scratch();
  const auto target_now = [&]() -> std::span<char> {
    std::span<char> target = sink.Buffer();
    if (target.size() < BodySink::kMinSinkBuffer) {
      target = {scratch.data(), scratch.size() - Connection::kSlack};
    }
    return target;
  };
  // Decodes the n bytes at target and passes the body bytes on.
  const auto take = [&](std::span<char> target, size_t n) -> Result<void> {
    const detail::BodyFramer::Decoded got = framer.Decode(target.data(), n);
    if (got.body > 0) {
      if (auto r = sink.OnData(std::string_view(target.data(), got.body)); !r) return r;
    }
    if (got.error) {
      return MakeError(ErrorKind::kProtocol, what + ": bad response body: " + got.error->message);
    }
    return Ok();
  };

  beast::flat_buffer& left = conn.read_buffer();
  while (left.size() > 0 && !framer.done()) {
    const std::span<char> target = target_now();
    const size_t n = std::min(left.size(), target.size());
    std::memcpy(target.data(), left.data().data(), n);
    left.consume(n);
    if (auto r = take(target, n); !r) co_return r;
  }
  while (!framer.done()) {
    const std::span<char> target = target_now();
    size_t n = 0;
    // At most kBodyReadBytes a read, as Beast's reads were: reads of up to a whole chunk (256 KiB
    // from the sandbox) were no faster and raised the 1 GB run's peak RSS by about 0.7 MiB
    // (benchmark target 4: 1.08 -> 1.13 x the 10 MB run's).
    const size_t want = framer.NextRead(std::min(target.size(), kBodyReadBytes));
    const error_code ec = co_await conn.ReadRaw(target.data(), want, n, timeout);
    if (n > 0) {
      if (auto r = take(target, n); !r) co_return r;
    }
    if (ec && !framer.done()) {
      co_return BodyError(what, ec, framer.length(), framer.chunked(), framer.body_bytes(),
                          timeout);
    }
  }
  if (framer.extra() > 0) {
    // Not reused: whatever else the server sent would be read as the next response.
    conn.Close();
  }
  co_return Ok();
}

}  // namespace

struct HttpClient::Impl {
  Impl(asio::io_context& io_in, ClientOptions options_in)
      : io(io_in), options(std::move(options_in)) {
    auto made = MakeClientTlsContext(
        TlsOptions{options.ca_file, options.client_cert, options.client_key});
    if (made) {
      tls = std::move(made).value();
    } else {
      tls_setup_error = std::move(made).error().message;
    }
    if (options.max_in_flight > 0) {
      in_flight = std::make_unique<SlotPool>(options.max_in_flight, options.on_in_flight);
    }
  }

  // The context for `host`: its own (UseTls) or the default. Sets *error when it failed to load.
  asio::ssl::context* TlsFor(const std::string& host, std::string* error) {
    auto it = per_host.find(host);
    if (it == per_host.end()) {
      *error = tls_setup_error;
      return tls.get();
    }
    *error = it->second.error;
    return it->second.context.get();
  }

  // The most recently pooled connection to `key` that is still open.
  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    auto it = idle.find(key);
    while (it != idle.end() && !it->second.empty()) {
      std::unique_ptr<Connection> conn = std::move(it->second.back().conn);
      it->second.pop_back();
      --idle_count;
      if (conn->is_open()) return conn;
    }
    return nullptr;
  }

  void PutIdle(const std::string& key, std::unique_ptr<Connection> conn) {
    auto& list = idle[key];
    // Closed by its destructor when it is not kept.
    if (list.size() >= options.max_idle_per_host || options.max_idle_total == 0) return;
    if (idle_count >= options.max_idle_total) CloseOldestIdle();
    conn->ClearTimeout();
    conn->ReleaseBuffers();
    list.push_back({++idle_stamp, std::move(conn)});
    ++idle_count;
  }

  // Closes the connection idle longest, whatever its host (max_idle_total).
  void CloseOldestIdle() {
    std::vector<IdleConnection>* oldest = nullptr;
    for (auto& [key, list] : idle) {
      if (!list.empty() && (oldest == nullptr || list.front().since < oldest->front().since)) {
        oldest = &list;
      }
    }
    if (oldest == nullptr) return;
    oldest->erase(oldest->begin());
    --idle_count;
  }

  asio::awaitable<Result<Response>> Run(const Request& request, BodySink* sink, size_t body_limit);
  // Run() in one of the max_in_flight slots.
  asio::awaitable<Result<Response>> Bounded(const Request& request, BodySink* sink,
                                            size_t body_limit);

  asio::io_context& io;
  ClientOptions options;
  struct HostTls {
    std::shared_ptr<asio::ssl::context> context;  // null when `error` is set
    std::string error;
  };
  std::shared_ptr<asio::ssl::context> tls;  // default; null when tls_setup_error is set
  std::string tls_setup_error;
  std::map<std::string, HostTls> per_host;  // UseTls
  std::vector<std::shared_ptr<asio::ssl::context>> retired;  // replaced by UseTls
  struct IdleConnection {
    uint64_t since;  // idle_stamp when pooled: the lowest was idle longest
    std::unique_ptr<Connection> conn;
  };
  std::map<std::string, std::vector<IdleConnection>> idle;  // per host, oldest first
  size_t idle_count = 0;
  uint64_t idle_stamp = 0;
  std::unique_ptr<SlotPool> in_flight;  // null: no bound
};

asio::awaitable<Result<Response>> HttpClient::Impl::Bounded(const Request& request,
                                                            BodySink* sink, size_t body_limit) {
  if (!in_flight) co_return co_await Run(request, sink, body_limit);
  co_await in_flight->Acquire();  // never closed: always a slot
  Result<Response> r = co_await Run(request, sink, body_limit);
  in_flight->Release();
  co_return r;
}

asio::awaitable<Result<Response>> HttpClient::Impl::Run(const Request& request, BodySink* sink,
                                                        size_t body_limit) {
  const Url& url = request.url;
  const std::string what = request.method + " " + std::string(url.Path());
  const auto timeout = request.timeout;
  bhttp::verb verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) {
    co_return MakeError(ErrorKind::kInvalid, what + ": unsupported method");
  }
  asio::ssl::context* tls = nullptr;
  if (url.tls()) {
    std::string tls_error;
    tls = TlsFor(url.host, &tls_error);
    if (!tls_error.empty()) co_return MakeError(ErrorKind::kInvalid, what + ": " + tls_error);
  }

  detail::RequestMessage req{verb, url.target, 11};
  req.set(bhttp::field::host, url.HostHeader());
  req.set(bhttp::field::user_agent, options.user_agent);
  req.set(bhttp::field::accept_encoding, "gzip");
  for (const Header& h : request.headers) req.set(h.name, h.value);
  if (!request.body.empty() || verb == bhttp::verb::post) {
    req.body() = request.body;
    req.prepare_payload();
  }
  req.keep_alive(true);

  const std::string key = url.scheme + "://" + url.Authority();
  std::unique_ptr<Connection> conn;
  std::optional<detail::ResponseParser> parser;
  bool allow_idle = true;
  while (true) {
    conn = allow_idle ? TakeIdle(key) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      auto opened = co_await Connection::Open(url, tls, timeout, what);
      if (!opened) co_return std::move(opened).error();
      conn = std::move(opened).value();
    }
    error_code ec = co_await conn->Write(req, timeout);
    if (ec) {
      conn->Close();
      if (reused && ec != beast::error::timeout) {
        allow_idle = false;  // stale keep-alive: one retry on a fresh connection
        continue;
      }
      co_return PhaseError(what, "write", ec, timeout);
    }
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());  // enforced below
    ec = co_await conn->ReadHeader(*parser, timeout);
    if (ec) {
      const bool nothing = !parser->got_some() && conn->read_buffer().size() == 0;
      conn->Close();
      if (reused && nothing && IsClosedByPeer(ec)) {
        allow_idle = false;
        continue;
      }
      co_return HeaderError(what, ec, options, timeout);
    }
    break;
  }

  auto& msg = parser->get();
  Response response;
  response.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    const auto name = field.name_string();
    const auto value = field.value();
    response.headers.push_back(Header{Lower(std::string_view(name.data(), name.size())),
                                      std::string(value.data(), value.size())});
  }
  const bool to_sink = sink != nullptr && response.status / 100 == 2;

  const std::string encoding = Lower(Trim(response.Get("content-encoding")));
  bool gzip = false;
  if (encoding == "gzip" || encoding == "x-gzip") {
    gzip = true;
  } else if (!encoding.empty() && encoding != "identity") {
    conn->Close();
    co_return MakeError(ErrorKind::kProtocol,
                        what + ": unsupported Content-Encoding: " + encoding.substr(0, 64));
  }
  const auto too_large = [&] {
    return MakeError(ErrorKind::kTooLarge,
                     what + ": body over " + std::to_string(body_limit) + " bytes");
  };
  if (!to_sink && !gzip && parser->content_length() && *parser->content_length() > body_limit) {
    conn->Close();
    co_return too_large();
  }

  std::optional<Error> sink_error;
  const auto deliver = [&](std::string_view piece) -> Result<void> {
    if (to_sink) {
      Result<void> r = sink->OnData(piece);
      if (!r) sink_error = r.error();
      return r;
    }
    if (response.body.size() + piece.size() > body_limit) return too_large();
    response.body.append(piece);
    return Ok();
  };

  // A 2xx identity body whose framing says where it ends: read straight from the socket into
  // the sink's buffer (or the scratch buffer), BodyFramer cutting out the chunk framing, instead
  // of through Beast's parser and its copy.
  if (to_sink && !gzip && !parser->is_done() &&
      (parser->chunked() || parser->content_length())) {
    if (auto r = co_await ReadBodyDirect(*conn, *parser, *sink, what, timeout); !r) {
      conn->Close();
      co_return std::move(r).error();
    }
    if (parser->keep_alive() && conn->is_open() && conn->read_buffer().size() == 0) {
      PutIdle(key, std::move(conn));
    }
    co_return response;
  }

  std::optional<GzipDecoder> decoder;
  if (gzip) decoder.emplace();
  static_assert(Connection::kSlack >= kBodySlack);
  std::vector<char>& scratch = conn->body_scratch();
  const size_t scratch_size = scratch.size() - Connection::kSlack;
  // Beast sizes each socket read by the read buffer's free capacity (at least 512 bytes, at most
  // 64 KiB). The parser moves body bytes out of it at once, so it never grows by itself and a
  // body came in ~512-byte reads: one recvmsg + epoll_wait + timer update per 512 bytes.
  // With room for the largest read, each one takes what the socket holds, up to 64 KiB.
  conn->read_buffer().reserve(kBodyReadBytes);
  uint64_t received = 0;
  while (!parser->is_done()) {
    // Straight into the sink's buffer when it offers one (no copy of the body on our side).
    std::span<char> target = to_sink && !decoder ? sink->Buffer() : std::span<char>{};
    if (target.size() < BodySink::kMinSinkBuffer) target = {scratch.data(), scratch_size};
    msg.body().data = target.data();
    msg.body().size = target.size();
    error_code ec = co_await conn->ReadSome(*parser, timeout);
    const size_t n = target.size() - msg.body().size;
    received += n;
    if (n > 0) {
      std::string_view piece(target.data(), n);
      Result<void> r = Ok();
      if (decoder) {
        std::vector<char>& out = conn->inflate_scratch();
        r = decoder->Feed(piece, out.data(), out.size() - Connection::kSlack, deliver);
      } else {
        r = deliver(piece);
      }
      if (!r) {
        conn->Close();
        if (sink_error) co_return std::move(*sink_error);
        Error e = std::move(r).error();
        if (e.kind == ErrorKind::kTooLarge) co_return e;
        co_return std::move(e).Context(what);
      }
    }
    if (ec) {
      conn->Close();
      const auto length = parser->content_length();
      co_return BodyError(what, ec, length ? std::optional<uint64_t>(*length) : std::nullopt,
                          parser->chunked(), received, timeout);
    }
  }
  if (decoder) {
    Result<void> r = decoder->Finish();
    if (!r) {
      conn->Close();
      co_return std::move(r).error().Context(what);
    }
  }

  if (parser->keep_alive() && conn->read_buffer().size() == 0) {
    PutIdle(key, std::move(conn));
  }
  co_return response;
}

HttpClient::HttpClient(asio::io_context& io, ClientOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

HttpClient::~HttpClient() { CloseIdle(); }

asio::awaitable<Result<Response>> HttpClient::Send(const Request& request, size_t body_limit) {
  return impl_->Bounded(request, nullptr, body_limit);
}

asio::awaitable<Result<Response>> HttpClient::Stream(const Request& request, BodySink& sink,
                                                     size_t error_body_limit) {
  return impl_->Bounded(request, &sink, error_body_limit);
}

void HttpClient::SetMaxInFlight(int max_in_flight) {
  if (impl_->in_flight) impl_->in_flight->SetCapacity(max_in_flight);
}

Result<void> HttpClient::UseTls(const std::string& host, const TlsOptions& tls) {
  Impl::HostTls& entry = impl_->per_host[host];
  // A connection in flight may still use the old context: it lives as long as the client.
  if (entry.context) impl_->retired.push_back(std::move(entry.context));
  auto made = MakeClientTlsContext(tls);
  if (!made) {
    entry = Impl::HostTls{nullptr, made.error().message};
    return std::move(made).error();
  }
  entry = Impl::HostTls{std::move(made).value(), ""};
  CloseIdle();  // pooled connections may have been made with the old settings
  return Ok();
}

void HttpClient::CloseIdle() {
  for (auto& [key, list] : impl_->idle) {
    for (auto& idle : list) idle.conn->Close();
  }
  impl_->idle.clear();
  impl_->idle_count = 0;
}

}  // namespace p2p::http
