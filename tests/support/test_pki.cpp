#include "support/test_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace p2p::test {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

struct Issued {
  Key key;
  Cert cert;
};

// A P-256 key and a certificate for `cn` with `extensions` ({nid, value}); self-signed when
// `issuer` is null.
Issued Issue(const std::string& cn, const std::vector<std::pair<int, std::string>>& extensions,
             const Issued* issuer, long serial) {
  Issued out{Key(EVP_EC_gen("P-256")), Cert(X509_new())};
  X509* x = out.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, out.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer_cert, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) throw std::runtime_error("test pki: bad extension " + value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(x, issuer ? issuer->key.get() : out.key.get(), EVP_sha256()) == 0) {
    throw std::runtime_error("test pki: cannot sign " + cn);
  }
  return out;
}

void WritePem(const std::string& path, const std::function<int(FILE*)>& write, mode_t mode) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("test pki: cannot write " + path);
  ::fchmod(fileno(f), mode);
  const int ok = write(f);
  std::fclose(f);
  if (ok != 1) throw std::runtime_error("test pki: cannot encode " + path);
}

void WriteCert(const std::string& path, const Issued& i) {
  WritePem(
      path, [&](FILE* f) { return PEM_write_X509(f, i.cert.get()); }, 0644);
}

void WriteKey(const std::string& path, const Issued& i) {
  WritePem(
      path,
      [&](FILE* f) {
        return PEM_write_PrivateKey(f, i.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
      },
      0600);
}

}  // namespace

TestPki MakeTestPki(const std::string& dir) {
  const std::vector<std::pair<int, std::string>> ca_ext = {
      {NID_basic_constraints, "critical,CA:TRUE"}, {NID_key_usage, "critical,keyCertSign"}};
  auto leaf = [](const std::string& san, const std::string& usage) {
    return std::vector<std::pair<int, std::string>>{{NID_basic_constraints, "critical,CA:FALSE"},
                                                    {NID_ext_key_usage, usage},
                                                    {NID_subject_alt_name, san}};
  };
  Issued ca = Issue("p2p test CA", ca_ext, nullptr, 1);
  Issued rogue = Issue("p2p rogue CA", ca_ext, nullptr, 2);
  Issued server = Issue("localhost", leaf("DNS:localhost,IP:127.0.0.1", "serverAuth"), &ca, 3);
  Issued wrong = Issue("wrong.example", leaf("DNS:wrong.example", "serverAuth"), &ca, 4);
  Issued client = Issue("p2p-ingest client", leaf("DNS:client.example", "clientAuth"), &ca, 5);

  TestPki pki;
  pki.dir = dir;
  pki.ca = dir + "/ca.pem";
  pki.rogue_ca = dir + "/rogue_ca.pem";
  pki.server_cert = dir + "/server.pem";
  pki.server_key = dir + "/server.key";
  pki.wrong_name_cert = dir + "/wrong_name.pem";
  pki.wrong_name_key = dir + "/wrong_name.key";
  pki.client_cert = dir + "/client.pem";
  pki.client_key = dir + "/client.key";
  WriteCert(pki.ca, ca);
  WriteCert(pki.rogue_ca, rogue);
  WriteCert(pki.server_cert, server);
  WriteKey(pki.server_key, server);
  WriteCert(pki.wrong_name_cert, wrong);
  WriteKey(pki.wrong_name_key, wrong);
  WriteCert(pki.client_cert, client);
  WriteKey(pki.client_key, client);
  return pki;
}

}  // namespace p2p::test
