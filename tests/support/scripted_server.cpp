#include "support/scripted_server.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace p2p::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using boost::system::error_code;

std::string RecordedRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

std::string HttpResponse(int status, std::string_view body, std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) +
                    " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

TlsIdentity MakeSelfSignedIdentity(const std::vector<std::string>& subject_alt_names) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("p2p test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  std::string san;
  for (const auto& s : subject_alt_names) san += (san.empty() ? "" : ",") + s;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                            {NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) throw std::runtime_error("bad extension " + value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());

  auto to_string = [](BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string s(data, static_cast<size_t>(n));
    BIO_free(bio);
    return s;
  };
  BIO* cert_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, x);
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  TlsIdentity id{to_string(cert_bio), to_string(key_bio)};
  X509_free(x);
  EVP_PKEY_free(key);
  return id;
}

struct ScriptedServer::State {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::optional<asio::ssl::context> tls;
  std::vector<Script> scripts;
  std::atomic<int> connections{0};
  mutable std::mutex mu;
  std::vector<RecordedRequest> requests;
  std::thread thread;
  uint16_t port = 0;
  bool stopped = false;

  asio::awaitable<void> AcceptLoop() {
    while (true) {
      error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      int index = connections.fetch_add(1);
      asio::co_spawn(io, RunConnection(std::move(socket), index), asio::detached);
    }
  }

  asio::awaitable<void> RunConnection(tcp::socket socket, int index) {
    if (static_cast<size_t>(index) >= scripts.size()) co_return;  // closes the socket
    if (!tls) {
      co_await Play(socket, socket, index);
      co_return;
    }
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls);
    error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await Play(stream, stream.next_layer(), index);
  }

  template <class Stream>
  asio::awaitable<void> Play(Stream& stream, tcp::socket& socket, int index) {
    beast::flat_buffer buffer;
    error_code ec;
    for (const Step& step : scripts[static_cast<size_t>(index)]) {
      switch (step.kind) {
        case Step::Kind::kReadRequest: {
          beast::http::request<beast::http::string_body> req;
          co_await beast::http::async_read(stream, buffer, req,
                                           asio::redirect_error(asio::use_awaitable, ec));
          if (ec) co_return;
          RecordedRequest rec;
          rec.connection = index;
          rec.method = std::string(req.method_string());
          rec.target = std::string(req.target());
          for (const auto& f : req) {
            std::string name(f.name_string());
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            rec.headers.emplace_back(std::move(name), std::string(f.value()));
          }
          rec.body = req.body();
          std::lock_guard<std::mutex> lock(mu);
          requests.push_back(std::move(rec));
          break;
        }
        case Step::Kind::kSend:
          co_await asio::async_write(stream, asio::buffer(step.bytes),
                                     asio::redirect_error(asio::use_awaitable, ec));
          if (ec) co_return;
          break;
        case Step::Kind::kDelay: {
          asio::steady_timer timer(io, step.delay);
          co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          break;
        }
        case Step::Kind::kClose:
          socket.shutdown(tcp::socket::shutdown_both, ec);
          socket.close(ec);
          co_return;
        case Step::Kind::kWaitClose: {
          char sink[4096];
          while (!ec) {
            co_await stream.async_read_some(asio::buffer(sink),
                                            asio::redirect_error(asio::use_awaitable, ec));
          }
          co_return;
        }
      }
    }
  }
};

ScriptedServer::ScriptedServer(std::vector<Script> scripts, std::optional<TlsIdentity> tls)
    : state_(std::make_unique<State>()) {
  state_->scripts = std::move(scripts);
  if (tls) {
    state_->tls.emplace(asio::ssl::context::tls_server);
    state_->tls->use_certificate_chain(asio::buffer(tls->cert_pem));
    state_->tls->use_private_key(asio::buffer(tls->key_pem), asio::ssl::context::pem);
  }
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  state_->port = state_->acceptor.local_endpoint().port();
  asio::co_spawn(state_->io, state_->AcceptLoop(), asio::detached);
  state_->thread = std::thread([s = state_.get()] { s->io.run(); });
}

ScriptedServer::~ScriptedServer() { Stop(); }

void ScriptedServer::Stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  state_->io.stop();
  state_->thread.join();
}

uint16_t ScriptedServer::port() const { return state_->port; }

std::string ScriptedServer::Url(std::string_view path) const {
  return std::string(state_->tls ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(state_->port) + std::string(path);
}

int ScriptedServer::connections() const { return state_->connections.load(); }

std::vector<RecordedRequest> ScriptedServer::requests() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->requests;
}

}  // namespace p2p::test
