#include <utility>  // before Boost.Asio (Boost 1.74)

#include "support/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <optional>

namespace p2p::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using beast::error_code;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool SplitUrl(std::string_view url, UrlParts* out) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return false;
  out->scheme = Lower(url.substr(0, sep));
  if (out->scheme != "http" && out->scheme != "https") return false;
  std::string_view rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out->target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  size_t colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    out->host = std::string(authority.substr(0, colon));
    out->port = std::string(authority.substr(colon + 1));
  } else {
    out->host = std::string(authority);
    out->port = out->scheme == "https" ? "443" : "80";
  }
  if (out->host.size() >= 2 && out->host.front() == '[') {
    out->host = out->host.substr(1, out->host.size() - 2);
  }
  return !out->host.empty();
}

std::string HttpResponse::Header(std::string_view name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? std::string() : it->second;
}

struct HttpClient::Impl {
  net::io_context ioc;
  std::optional<net::ssl::context> ssl_ctx;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  std::string key;  // scheme://host:port of the open connection

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  void Reset() {
    if (plain || tls) {
      error_code ec;
      lowest().socket().close(ec);
    }
    tls.reset();
    plain.reset();
    buffer.clear();
    key.clear();
  }
  // Runs the io_context until `done` or `timeout`; on timeout closes the socket.
  error_code Run(bool& done, error_code& ec, std::chrono::milliseconds timeout) {
    ioc.restart();
    ioc.run_for(timeout);
    if (!done) {
      Reset();
      ioc.restart();
      ioc.run();
      return net::error::timed_out;
    }
    return ec;
  }
};

HttpClient::HttpClient(std::string base_url, std::string ca_file)
    : impl_(std::make_unique<Impl>()), base_url_(std::move(base_url)), ca_file_(std::move(ca_file)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() { impl_->Reset(); }

HttpResponse HttpClient::Post(std::string_view target, std::string body,
                              std::string_view content_type, Headers headers) {
  headers.emplace_back("Content-Type", std::string(content_type));
  return Request("POST", target, std::move(body), headers);
}

HttpResponse HttpClient::Request(std::string_view method, std::string_view target,
                                 std::string body, const Headers& headers) {
  HttpResponse response;
  UrlParts url;
  std::string absolute = target.rfind("http", 0) == 0 ? std::string(target)
                                                      : base_url_ + std::string(target);
  if (!SplitUrl(absolute, &url)) {
    response.error = "bad URL " + absolute;
    return response;
  }
  Impl& im = *impl_;
  std::string key = url.scheme + "://" + url.host + ":" + url.port;
  bool done = false;
  error_code ec;
  auto finish = [&](error_code e) {
    ec = e;
    done = true;
  };
  if (im.key != key) {
    im.Reset();
    tcp::resolver resolver(im.ioc);
    auto endpoints = resolver.resolve(url.host, url.port, ec);
    if (ec) {
      response.error = "resolve " + url.host + ": " + ec.message();
      return response;
    }
    if (url.scheme == "https") {
      if (!im.ssl_ctx) {
        im.ssl_ctx.emplace(net::ssl::context::tls_client);
        im.ssl_ctx->set_verify_mode(net::ssl::verify_peer);
        if (!ca_file_.empty()) im.ssl_ctx->load_verify_file(ca_file_, ec);
        if (ec) {
          response.error = "CA file " + ca_file_ + ": " + ec.message();
          return response;
        }
      }
      im.tls.emplace(im.ioc, *im.ssl_ctx);
      SSL_set_tlsext_host_name(im.tls->native_handle(), url.host.c_str());
      X509_VERIFY_PARAM* param = SSL_get0_param(im.tls->native_handle());
      if (net::ip::make_address(url.host, ec); !ec) {
        X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
      } else {
        X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
      }
      ec = {};
    } else {
      im.plain.emplace(im.ioc);
    }
    im.lowest().expires_after(timeout_);
    im.lowest().async_connect(endpoints, [&](error_code e, const tcp::endpoint&) { finish(e); });
    if (auto e = im.Run(done, ec, timeout_)) {
      im.Reset();
      response.error = "connect " + key + ": " + e.message();
      return response;
    }
    ++connections_opened_;
    if (im.tls) {
      done = false;
      im.tls->async_handshake(net::ssl::stream_base::client, finish);
      if (auto e = im.Run(done, ec, timeout_)) {
        im.Reset();
        response.error = "TLS handshake: " + e.message();
        return response;
      }
    }
    im.key = key;
  }

  http::request<http::string_body> req{http::string_to_verb(std::string(method)), url.target, 11};
  req.set(http::field::host, url.host + ":" + url.port);
  req.set(http::field::user_agent, "p2p-test-client");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.body() = std::move(body);
    req.prepare_payload();
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::uint64_t{1} << 36);
  done = false;
  im.lowest().expires_after(timeout_);
  auto on_read = [&](error_code e, size_t) { finish(e); };
  auto on_write = [&](error_code e, size_t) {
    if (e) return finish(e);
    if (im.tls) {
      http::async_read(*im.tls, im.buffer, parser, on_read);
    } else {
      http::async_read(*im.plain, im.buffer, parser, on_read);
    }
  };
  if (im.tls) {
    http::async_write(*im.tls, req, on_write);
  } else {
    http::async_write(*im.plain, req, on_write);
  }
  error_code e = im.Run(done, ec, timeout_);
  if (parser.is_header_done()) {
    const auto& res = parser.get();
    response.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      response.headers[Lower(std::string_view(field.name_string().data(), field.name_string().size()))] =
          std::string(field.value());
    }
    response.body = res.body();
  }
  if (e) {
    im.Reset();
    response.error = std::string(method) + " " + url.target + ": " + e.message();
    return response;
  }
  if (!parser.get().keep_alive()) im.Reset();
  return response;
}

}  // namespace p2p::testing
