#include "http/client.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "support/run_sync.h"
#include "support/scripted_server.h"

namespace p2p::http {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using test::HttpResponse;
using test::Script;
using test::ScriptedServer;
using test::Step;

using test::RunSync;

Request Get(const std::string& url, milliseconds timeout = milliseconds(2000)) {
  Request r;
  r.url = Url::Parse(url).value();
  r.timeout = timeout;
  return r;
}

class RecordingSink : public BodySink {
 public:
  Result<void> OnData(std::string_view chunk) override {
    data.append(chunk);
    ++calls;
    max_chunk = std::max(max_chunk, chunk.size());
    if (fail_after_bytes && data.size() >= *fail_after_bytes) {
      return MakeError(ErrorKind::kIo, "disk says no");
    }
    return Ok();
  }
  std::string data;
  int calls = 0;
  size_t max_chunk = 0;
  std::optional<size_t> fail_after_bytes;
};

std::string Gzip(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return s;
}

class HttpClientTest : public ::testing::Test {
 protected:
  asio::io_context io;
  HttpClient client{io, ClientOptions{}};
};

TEST_F(HttpClientTest, GetRoundTripSendsHostUserAgentAndHeaders) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(200, "hello", "X-Thing: A\r\n"))}});
  Request req = Get(server.Url("/v1/x?a=1"));
  req.headers.push_back({"Accept", "application/fhir+json"});
  Result<Response> res = RunSync(io, client.Send(req, 1024));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hello");
  EXPECT_EQ(res->Get("x-thing"), "A");
  EXPECT_EQ(res->Get("content-length"), "5");
  auto got = server.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "GET");
  EXPECT_EQ(got[0].target, "/v1/x?a=1");
  EXPECT_EQ(got[0].Header("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(got[0].Header("user-agent"), "p2p-ingest");
  EXPECT_EQ(got[0].Header("accept"), "application/fhir+json");
  EXPECT_EQ(got[0].Header("accept-encoding"), "gzip");
  EXPECT_EQ(got[0].Header("content-length"), "");
  EXPECT_EQ(got[0].body, "");
}

TEST_F(HttpClientTest, PostSendsBodyWithContentLength) {
  ScriptedServer server({{Step::ReadRequest(), Step::Send(HttpResponse(201, "{}"))}});
  Request req = Get(server.Url("/token"));
  req.method = "POST";
  req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  req.body = "grant_type=client_credentials";
  Result<Response> res = RunSync(io, client.Send(req, 1024));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 201);
  auto got = server.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].Header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(got[0].Header("content-length"), "29");
  EXPECT_EQ(got[0].body, "grant_type=client_credentials");
}

TEST_F(HttpClientTest, KeepAliveReusesOneConnection) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(200, "one")), Step::ReadRequest(),
        Step::Send(HttpResponse(200, "two")), Step::WaitClose()}});
  Request req = Get(server.Url("/x"));
  EXPECT_EQ(RunSync(io, client.Send(req, 1024))->body, "one");
  EXPECT_EQ(RunSync(io, client.Send(req, 1024))->body, "two");
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(HttpClientTest, StaleKeepAliveIsRetriedOnAFreshConnection) {
  ScriptedServer server({{Step::ReadRequest(), Step::Send(HttpResponse(200, "one")), Step::Close()},
                         {Step::ReadRequest(), Step::Send(HttpResponse(200, "two"))}});
  Request req = Get(server.Url("/x"));
  EXPECT_EQ(RunSync(io, client.Send(req, 1024))->body, "one");
  Result<Response> second = RunSync(io, client.Send(req, 1024));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->body, "two");
  EXPECT_EQ(server.connections(), 2);
  auto got = server.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].connection, 1);
}

TEST_F(HttpClientTest, ConnectionCloseIsHonoured) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(200, "one", "Connection: close\r\n")),
        Step::WaitClose()},
       {Step::ReadRequest(), Step::Send(HttpResponse(200, "two"))}});
  Request req = Get(server.Url("/x"), milliseconds(1000));
  EXPECT_EQ(RunSync(io, client.Send(req, 1024))->body, "one");
  EXPECT_EQ(RunSync(io, client.Send(req, 1024))->body, "two");
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(HttpClientTest, ConnectRefusedIsNetworkError) {
  uint16_t port;
  {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  Result<Response> res =
      RunSync(io, client.Send(Get("http://127.0.0.1:" + std::to_string(port) + "/x?q=1"), 1024));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kNetwork);
  EXPECT_EQ(res.error().message, "GET /x: connect failed: Connection refused");
}

TEST_F(HttpClientTest, HeaderReadTimeoutNamesPhaseAndPathWithoutQuery) {
  ScriptedServer server({{Step::ReadRequest(), Step::WaitClose()}});
  Result<Response> res =
      RunSync(io, client.Send(Get(server.Url("/v1/bison/x?_since=2020"), milliseconds(50)), 1024));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kTimeout);
  EXPECT_EQ(res.error().message, "GET /v1/bison/x: read header timed out after 50ms");
}

TEST_F(HttpClientTest, BodyReadTimeoutMidBody) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        Step::WaitClose()}});
  Result<Response> res = RunSync(io, client.Send(Get(server.Url("/x"), milliseconds(50)), 1024));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kTimeout);
  EXPECT_EQ(res.error().message, "GET /x: read body timed out after 50ms");
}

TEST_F(HttpClientTest, BodyShorterThanContentLengthIsTruncated) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        Step::Close()}});
  Result<Response> res = RunSync(io, client.Send(Get(server.Url("/x")), 1024));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kTruncated);
  EXPECT_EQ(res.error().message, "GET /x: body truncated after 3 of 10 bytes");
}

TEST_F(HttpClientTest, ChunkedBodyCutIsTruncated) {
  ScriptedServer server(
      {{Step::ReadRequest(),
        Step::Send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
        Step::Close()}});
  RecordingSink sink;
  Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/f.ndjson")), sink));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kTruncated);
  EXPECT_EQ(res.error().message, "GET /f.ndjson: chunked body cut after 5 bytes");
  EXPECT_EQ(sink.data, "hello");
}

TEST_F(HttpClientTest, BodyOverLimitIsTooLarge) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(200, Pattern(100)))},
       {Step::ReadRequest(), Step::Send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                        "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n")}});
  Result<Response> by_length = RunSync(io, client.Send(Get(server.Url("/x")), 10));
  ASSERT_FALSE(by_length.ok());
  EXPECT_EQ(by_length.error().kind, ErrorKind::kTooLarge);
  EXPECT_EQ(by_length.error().message, "GET /x: body over 10 bytes");
  Result<Response> chunked = RunSync(io, client.Send(Get(server.Url("/y")), 10));
  ASSERT_FALSE(chunked.ok());
  EXPECT_EQ(chunked.error().message, "GET /y: body over 10 bytes");
}

TEST_F(HttpClientTest, HeaderOverLimitIsTooLarge) {
  ScriptedServer server({{Step::ReadRequest(),
                          Step::Send(HttpResponse(200, "", "X-Big: " + Pattern(2000) + "\r\n"))}});
  HttpClient small(io, ClientOptions{.ca_file = "", .max_header_bytes = 1024});
  Result<Response> res = RunSync(io, small.Send(Get(server.Url("/x")), 10));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kTooLarge);
  EXPECT_EQ(res.error().message, "GET /x: response header over 1024 bytes");
}

TEST_F(HttpClientTest, StreamDeliversExactlyTheBytesAcrossChunkBoundaries) {
  const std::string body = Pattern(300 * 1024 + 17);
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  ScriptedServer server({{Step::ReadRequest(), Step::Send(head + body.substr(0, 1)),
                          Step::Delay(milliseconds(5)), Step::Send(body.substr(1, 70000)),
                          Step::Delay(milliseconds(5)), Step::Send(body.substr(70001))}});
  RecordingSink sink;
  Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/f.ndjson")), sink));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "");
  EXPECT_TRUE(sink.data == body);
  EXPECT_GE(sink.calls, 5);
  EXPECT_LE(sink.max_chunk, 64u * 1024);
}

// A sink that offers its own buffer (BodySink::Buffer): a window that moves along one big
// buffer, as fhir::ChunkChecker's slot does. Every chunk must start where the window did.
class BufferSink : public BodySink {
 public:
  explicit BufferSink(size_t window) : buf(4 << 20), window_(window) {}
  std::span<char> Buffer() override {
    ++offered;
    if (used + window_ + kBodySlack > buf.size()) return {};
    expected_at = buf.data() + used;
    return {expected_at, window_};
  }
  Result<void> OnData(std::string_view chunk) override {
    if (chunk.data() == expected_at && expected_at != nullptr) {
      ++in_place;
      used += chunk.size();
    } else {
      copied.append(chunk);
    }
    expected_at = nullptr;
    data.append(chunk);
    return Ok();
  }
  std::vector<char> buf;
  std::string data, copied;
  size_t used = 0;
  int offered = 0, in_place = 0;

 private:
  size_t window_;
  char* expected_at = nullptr;
};

TEST_F(HttpClientTest, StreamReadsIntoTheSinksBufferWhenItOffersOne) {
  const std::string body = Pattern(300 * 1024 + 17);
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t i = 0; i < body.size(); i += 10000) {
    const std::string part = body.substr(i, 10000);
    char size[16];
    snprintf(size, sizeof size, "%zx", part.size());
    chunked += std::string(size) + "\r\n" + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  ScriptedServer server({{Step::ReadRequest(), Step::Send(HttpResponse(200, body)),
                          Step::ReadRequest(), Step::Send(chunked)}});
  for (const char* path : {"/identity", "/chunked"}) {
    SCOPED_TRACE(path);
    BufferSink sink(BodySink::kMinSinkBuffer);
    Result<Response> res = RunSync(io, client.Stream(Get(server.Url(path)), sink));
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_TRUE(sink.data == body);
    EXPECT_EQ(sink.copied, "");  // every byte was read where the sink asked
    EXPECT_EQ(sink.used, body.size());
    EXPECT_GE(sink.in_place, static_cast<int>(body.size() / BodySink::kMinSinkBuffer));
  }
}

TEST_F(HttpClientTest, StreamIgnoresASinkBufferTooSmallOrForGzip) {
  const std::string body = Pattern(100 * 1024);
  ScriptedServer server({{Step::ReadRequest(), Step::Send(HttpResponse(200, body)),
                          Step::ReadRequest(),
                          Step::Send(HttpResponse(200, Gzip(body), "Content-Encoding: gzip\r\n"))}});
  BufferSink small(BodySink::kMinSinkBuffer - 1);
  Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/small")), small));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_TRUE(small.data == body);
  EXPECT_EQ(small.in_place, 0);
  EXPECT_TRUE(small.copied == body);
  BufferSink gz(BodySink::kMinSinkBuffer);
  res = RunSync(io, client.Stream(Get(server.Url("/gz")), gz));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_TRUE(gz.data == body);
  EXPECT_EQ(gz.offered, 0);  // inflated output goes through the client's buffer
  EXPECT_EQ(gz.in_place, 0);
}

TEST_F(HttpClientTest, StreamDecodesChunkedTransferEncoding) {
  std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string body;
  for (int i = 0; i < 50; ++i) {
    std::string line = "{\"n\":" + std::to_string(i) + "}\n";
    body += line;
    char size[16];
    snprintf(size, sizeof size, "%zx", line.size());
    wire += std::string(size) + "\r\n" + line + "\r\n";
  }
  wire += "0\r\n\r\n";
  ScriptedServer server({{Step::ReadRequest(), Step::Send(wire)}});
  RecordingSink sink;
  Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/f")), sink));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(sink.data, body);
}

// Stream reads 2xx identity bodies past the header itself (BodyFramer): chunk framing split
// anywhere across the server's writes, with extensions and trailers, must give the body, and
// leave the connection fit for the next request.
TEST_F(HttpClientTest, StreamReadsChunkFramingSplitAnywhereAndReusesTheConnection) {
  const std::string body = Pattern(200000);
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  // Chunks of 100000, 99990 and 10 bytes; the writes cut the framing in odd places.
  const std::vector<std::string> writes = {
      head + "186",
      "A0;name=va",
      "lue\r",
      "\n" + body.substr(0, 70000),
      body.substr(70000, 30000) + "\r",
      "\n18696\r\n" + body.substr(100000, 99990) + "\r\na\r\n" + body.substr(199990),
      "\r\n0\r\nX-Checksum: none\r\n",
      "\r\n",
  };
  Script script;
  for (int round = 0; round < 3; ++round) {
    script.push_back(Step::ReadRequest());
    for (const std::string& w : writes) {
      script.push_back(Step::Send(w));
      script.push_back(Step::Delay(milliseconds(3)));
    }
    script.push_back(Step::ReadRequest());
    script.push_back(Step::Send(HttpResponse(200, "second")));
  }
  script.push_back(Step::WaitClose());
  ScriptedServer server({script});
  for (size_t window : {size_t{0}, BodySink::kMinSinkBuffer, size_t{1} << 20}) {
    SCOPED_TRACE(window);
    if (window > 0) {
      BufferSink sink(window);
      Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/f")), sink));
      ASSERT_TRUE(res.ok()) << res.error().message;
      EXPECT_TRUE(sink.data == body);
      EXPECT_EQ(sink.copied, "");  // the body bytes stay where they were read
    } else {
      RecordingSink sink;
      Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/f")), sink));
      ASSERT_TRUE(res.ok()) << res.error().message;
      EXPECT_TRUE(sink.data == body);
    }
    RecordingSink second;
    Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/g")), second));
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(second.data, "second");
  }
  EXPECT_EQ(server.connections(), 1);  // reused after every response
}

TEST_F(HttpClientTest, StreamBadChunkFramingIsAProtocolError) {
  ScriptedServer server(
      {{Step::ReadRequest(),
        Step::Send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"),
        Step::WaitClose()}});
  RecordingSink sink;
  Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/f")), sink));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kProtocol);
  EXPECT_EQ(res.error().message, "GET /f: bad response body: bad chunk size: not a hex number");
  EXPECT_EQ(sink.data, "hello");
}

TEST_F(HttpClientTest, StreamIdentityBodyCutOrStalledIsReportedLikeSend) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        Step::Close()},
       {Step::ReadRequest(), Step::Send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        Step::WaitClose()}});
  RecordingSink cut;
  Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/x")), cut));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kTruncated);
  EXPECT_EQ(res.error().message, "GET /x: body truncated after 3 of 10 bytes");
  EXPECT_EQ(cut.data, "abc");
  RecordingSink stalled;
  res = RunSync(io, client.Stream(Get(server.Url("/x"), milliseconds(50)), stalled));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kTimeout);
  EXPECT_EQ(res.error().message, "GET /x: read body timed out after 50ms");
}

TEST_F(HttpClientTest, StreamDoesNotReuseAConnectionThatSentMoreThanItsFraming) {
  ScriptedServer server(
      {{Step::ReadRequest(),
        Step::Send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"),
        Step::WaitClose()},
       {Step::ReadRequest(), Step::Send(HttpResponse(200, "fresh"))}});
  RecordingSink first;
  Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/a")), first));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(first.data, "abc");
  RecordingSink second;
  res = RunSync(io, client.Stream(Get(server.Url("/b")), second));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(second.data, "fresh");
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(HttpClientTest, GzipBodyIsDecodedForSendAndStream) {
  const std::string body = Pattern(200 * 1024);
  const std::string gz = Gzip(body);
  const std::string wire = HttpResponse(200, gz, "Content-Encoding: gzip\r\n");
  ScriptedServer server({{Step::ReadRequest(), Step::Send(wire), Step::ReadRequest(),
                          Step::Send(wire), Step::WaitClose()}});
  Result<Response> sent = RunSync(io, client.Send(Get(server.Url("/a")), 1 << 20));
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_TRUE(sent->body == body);
  RecordingSink sink;
  Result<Response> streamed = RunSync(io, client.Stream(Get(server.Url("/b")), sink));
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;
  EXPECT_TRUE(sink.data == body);
  EXPECT_LE(sink.max_chunk, 64u * 1024);
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(HttpClientTest, GzipDecodedSizeCountsAgainstTheLimit) {
  const std::string gz = Gzip(std::string(10000, 'x'));
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(200, gz, "Content-Encoding: gzip\r\n"))}});
  Result<Response> res = RunSync(io, client.Send(Get(server.Url("/a")), 5000));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().message, "GET /a: body over 5000 bytes");
}

TEST_F(HttpClientTest, OtherContentEncodingIsProtocolError) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(200, "xx", "Content-Encoding: br\r\n"))}});
  Result<Response> res = RunSync(io, client.Send(Get(server.Url("/a")), 1024));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kProtocol);
  EXPECT_EQ(res.error().message, "GET /a: unsupported Content-Encoding: br");
}

TEST_F(HttpClientTest, CorruptGzipIsProtocolError) {
  ScriptedServer server(
      {{Step::ReadRequest(),
        Step::Send(HttpResponse(200, "not gzip", "Content-Encoding: gzip\r\n"))}});
  Result<Response> res = RunSync(io, client.Send(Get(server.Url("/a")), 1024));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kProtocol);
  EXPECT_EQ(res.error().message, "GET /a: gzip: incorrect header check");
}

TEST_F(HttpClientTest, NonSuccessStatusIsReturnedNotAnError) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(404, "nope")), Step::ReadRequest(),
        Step::Send(HttpResponse(503, "busy", "Retry-After: 7\r\n")), Step::WaitClose()}});
  Result<Response> sent = RunSync(io, client.Send(Get(server.Url("/a")), 1024));
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(sent->status, 404);
  EXPECT_EQ(sent->body, "nope");
  RecordingSink sink;
  Result<Response> streamed = RunSync(io, client.Stream(Get(server.Url("/b")), sink));
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;
  EXPECT_EQ(streamed->status, 503);
  EXPECT_EQ(streamed->body, "busy");
  EXPECT_EQ(streamed->Get("retry-after"), "7");
  EXPECT_EQ(sink.calls, 0);
}

TEST_F(HttpClientTest, SinkErrorAbortsTheTransferAndIsReturned) {
  ScriptedServer server({{Step::ReadRequest(), Step::Send(HttpResponse(200, Pattern(1000)))}});
  RecordingSink sink;
  sink.fail_after_bytes = 1;
  Result<Response> res = RunSync(io, client.Stream(Get(server.Url("/a")), sink));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kIo);
  EXPECT_EQ(res.error().message, "disk says no");
}

// --- TLS -------------------------------------------------------------------------------------

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() / ("p2p-http-test-" + std::to_string(getpid()) +
                                                      "-" + std::to_string(++counter) + ".pem");
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST_F(HttpClientTest, TlsSelfSignedIsRejectedWithoutCaFile) {
  ScriptedServer server({{Step::ReadRequest(), Step::Send(HttpResponse(200, "secret"))}},
                        test::MakeSelfSignedIdentity({"IP:127.0.0.1"}));
  Result<Response> res = RunSync(io, client.Send(Get(server.Url("/x")), 1024));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kNetwork);
  EXPECT_EQ(res.error().message,
            "GET /x: TLS handshake failed: certificate verify failed: self-signed certificate");
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(HttpClientTest, TlsIsAcceptedWithCaFile) {
  test::TlsIdentity id = test::MakeSelfSignedIdentity({"IP:127.0.0.1"});
  TempFile ca(id.cert_pem);
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(200, "ok")), Step::ReadRequest(),
        Step::Send(HttpResponse(200, "again")), Step::WaitClose()}},
      id);
  HttpClient tls_client(io, ClientOptions{.ca_file = ca.path()});
  Result<Response> res = RunSync(io, tls_client.Send(Get(server.Url("/x")), 1024));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->body, "ok");
  Result<Response> again = RunSync(io, tls_client.Send(Get(server.Url("/x")), 1024));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->body, "again");
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(HttpClientTest, StreamOverTlsReadsTheBodyStraightFromTheStream) {
  test::TlsIdentity id = test::MakeSelfSignedIdentity({"IP:127.0.0.1"});
  TempFile ca(id.cert_pem);
  const std::string body = Pattern(150000);
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t i = 0; i < body.size(); i += 40000) {
    const std::string part = body.substr(i, 40000);
    char size[16];
    snprintf(size, sizeof size, "%zx", part.size());
    chunked += std::string(size) + "\r\n" + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  ScriptedServer server({{Step::ReadRequest(), Step::Send(chunked), Step::ReadRequest(),
                          Step::Send(HttpResponse(200, body)), Step::WaitClose()}},
                        id);
  HttpClient tls_client(io, ClientOptions{.ca_file = ca.path()});
  for (const char* path : {"/chunked", "/identity"}) {
    SCOPED_TRACE(path);
    BufferSink sink(BodySink::kMinSinkBuffer * 4);
    Result<Response> res = RunSync(io, tls_client.Stream(Get(server.Url(path)), sink));
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_TRUE(sink.data == body);
    EXPECT_EQ(sink.copied, "");
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(HttpClientTest, TlsWrongHostNameIsRejected) {
  test::TlsIdentity id = test::MakeSelfSignedIdentity({"DNS:localhost"});
  TempFile ca(id.cert_pem);
  ScriptedServer server({{Step::ReadRequest(), Step::Send(HttpResponse(200, "ok"))}}, id);
  HttpClient tls_client(io, ClientOptions{.ca_file = ca.path()});
  Result<Response> res = RunSync(io, tls_client.Send(Get(server.Url("/x")), 1024));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kNetwork);
  EXPECT_EQ(res.error().message,
            "GET /x: TLS handshake failed: certificate verify failed: IP address mismatch");
}

TEST_F(HttpClientTest, MissingCaFileIsReported) {
  HttpClient tls_client(io, ClientOptions{.ca_file = "/nonexistent/ca.pem"});
  Result<Response> res = RunSync(io, tls_client.Send(Get("https://127.0.0.1:1/x"), 1024));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(res.error().message.rfind("GET /x: tls.ca_file /nonexistent/ca.pem: cannot load: ", 0), 0u)
      << res.error().message;
}

}  // namespace
}  // namespace p2p::http

namespace p2p::http {
namespace {

// max_in_flight: requests started together go one at a time, so they share one keep-alive
// connection (overlapping requests would each need a connection of their own).
TEST(HttpClientBounds, RequestsInFlightWaitTheirTurn) {
  ScriptedServer server({{Step::ReadRequest(), Step::Delay(milliseconds(20)),
                          Step::Send(HttpResponse(200, "r1")), Step::ReadRequest(),
                          Step::Send(HttpResponse(200, "r2")), Step::ReadRequest(),
                          Step::Send(HttpResponse(200, "r3")), Step::WaitClose()}});
  asio::io_context io;
  int highest = 0;
  ClientOptions options;
  options.max_in_flight = 1;
  options.on_in_flight = [&highest](int n) { highest = std::max(highest, n); };
  HttpClient client(io, options);
  const Request req = Get(server.Url("/x"));
  std::vector<std::string> bodies;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto r = co_await client.Send(req, 1024);
          bodies.push_back(r ? r->body : r.error().message);
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(bodies, (std::vector<std::string>{"r1", "r2", "r3"}));
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(highest, 1);
}

// max_idle_total: pooling a connection past the total closes the one idle longest, whatever its
// host; the next request to that host opens a new connection.
TEST(HttpClientBounds, IdleConnectionsAreBoundedOverAllHosts) {
  ScriptedServer a({{Step::ReadRequest(), Step::Send(HttpResponse(200, "a1")), Step::WaitClose()},
                    {Step::ReadRequest(), Step::Send(HttpResponse(200, "a2"))}});
  ScriptedServer b({{Step::ReadRequest(), Step::Send(HttpResponse(200, "b1")), Step::WaitClose()}});
  asio::io_context io;
  ClientOptions options;
  options.max_idle_total = 1;
  HttpClient client(io, options);
  EXPECT_EQ(RunSync(io, client.Send(Get(a.Url("/x")), 1024))->body, "a1");
  EXPECT_EQ(RunSync(io, client.Send(Get(b.Url("/x")), 1024))->body, "b1");  // a's goes
  Result<Response> again = RunSync(io, client.Send(Get(a.Url("/x")), 1024));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->body, "a2");
  EXPECT_EQ(a.connections(), 2);
  auto got = a.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].connection, 1);
}

}  // namespace
}  // namespace p2p::http
