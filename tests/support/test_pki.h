// TestPki: a throw-away certificate authority for TLS tests, made with the OpenSSL API at run
// time (no network, no files checked in). Writes PEM files into `dir`:
//   ca.pem                         the CA certificate (trust anchor for client and server)
//   server.pem / server.key        signed by the CA for DNS:localhost and IP:127.0.0.1
//   wrong_name.pem / wrong_name.key signed by the CA for DNS:wrong.example only
//   client.pem / client.key        a client certificate signed by the CA (mutual TLS)
//   rogue_ca.pem                   another CA that signed none of the above
// Keys are written mode 0600. Certificates are valid from an hour ago for a day.
// Not thread-safe (OpenSSL objects are created and freed on the calling thread).
#pragma once

#include <string>

namespace p2p::test {

struct TestPki {
  std::string dir;
  std::string ca;
  std::string rogue_ca;
  std::string server_cert, server_key;
  std::string wrong_name_cert, wrong_name_key;
  std::string client_cert, client_key;
};

// Creates the files above in `dir` (which must exist). Throws std::runtime_error on failure.
TestPki MakeTestPki(const std::string& dir);

}  // namespace p2p::test
