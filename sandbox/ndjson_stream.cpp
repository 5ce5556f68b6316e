#include "ndjson_stream.h"

namespace p2p::sandbox {

NdjsonProducer::NdjsonProducer(const Synth& synth, uint64_t member, std::string_view type,
                               std::optional<int64_t> since)
    : synth_(synth), member_(member), type_(type), since_(since),
      count_(synth.ResourceCount(member, type)) {}

bool NdjsonProducer::Fill(std::string& out, size_t target) {
  bool appended = false;
  while (next_ < count_ && out.size() < target) {
    uint64_t k = next_++;
    if (since_ && synth_.LastUpdated(member_, type_, k) < *since_) continue;
    synth_.AppendResource(member_, type_, k, out);
    out.push_back('\n');
    appended = true;
  }
  return appended || next_ < count_;
}

GzipEncoder::GzipEncoder() {
  deflateInit2(&z_, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

GzipEncoder::~GzipEncoder() { deflateEnd(&z_); }

void GzipEncoder::Encode(std::string_view in, bool finish, std::string& out) {
  out.clear();
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_.avail_in = static_cast<uInt>(in.size());
  int flush = finish ? Z_FINISH : Z_NO_FLUSH;
  while (true) {
    size_t old = out.size();
    out.resize(old + 64 * 1024 + in.size() / 2);
    z_.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z_.avail_out = static_cast<uInt>(out.size() - old);
    int rc = deflate(&z_, flush);
    out.resize(out.size() - z_.avail_out);
    if (rc == Z_STREAM_END) break;
    if (z_.avail_in == 0 && z_.avail_out != 0 && !finish) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
  }
}

}  // namespace p2p::sandbox
