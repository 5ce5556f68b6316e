#include "roster.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>

namespace p2p::sandbox {
namespace {

constexpr std::string_view kCsvHeader =
    "member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,new_coverage_id,"
    "coverage_start,opt_in_date,consent_start,consent_end,consent_policy\n";

// RFC 4180: quote only fields holding a comma, quote, CR or LF; double inner quotes.
void AppendCsvField(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// Member keys and resource ids are [A-Za-z0-9.-]: no escaping needed in JSON.
void AppendJsonList(std::string& out, const Synth& synth, uint64_t index, std::string_view type) {
  out.push_back('"');
  out.append(type);
  out.append("\":[");
  const uint64_t n = synth.ResourceCount(index, type);
  for (uint64_t k = 0; k < n; ++k) {
    if (k > 0) out.push_back(',');
    out.push_back('"');
    synth.AppendResourceId(index, type, k, out);
    out.push_back('"');
  }
  out.push_back(']');
}

std::string_view Outcome(MemberKind kind) {
  switch (kind) {
    case MemberKind::kMatch:
      return "complete";
    case MemberKind::kNoMatch:
      return "no_match";
    case MemberKind::kConsentRefused:
      return "consent_refused";
  }
  return "complete";
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// A file written under a temporary name and renamed into place by Commit().
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path)
      : path_(std::move(path)), tmp_(path_.string() + ".tmp") {}
  ~AtomicFile() {
    if (file_) {
      file_.reset();
      std::error_code ignored;
      std::filesystem::remove(tmp_, ignored);
    }
  }

  bool Open(std::string& error) {
    file_.reset(std::fopen(tmp_.c_str(), "wb"));
    if (!file_) {
      error = "cannot create " + tmp_.string() + ": " + std::strerror(errno);
      return false;
    }
    std::setvbuf(file_.get(), nullptr, _IOFBF, 1 << 20);
    return true;
  }
  bool Write(std::string_view data) {
    return std::fwrite(data.data(), 1, data.size(), file_.get()) == data.size();
  }
  bool Commit(std::string& error) {
    std::FILE* f = file_.release();
    const bool flushed = std::fflush(f) == 0 && !std::ferror(f);
    const int saved = errno;
    const bool closed = std::fclose(f) == 0;
    if (!flushed || !closed) {
      error = "cannot write " + tmp_.string() + ": " + std::strerror(flushed ? errno : saved);
      std::error_code ignored;
      std::filesystem::remove(tmp_, ignored);
      return false;
    }
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) {
      error = "cannot rename " + tmp_.string() + " to " + path_.string() + ": " + ec.message();
      std::filesystem::remove(tmp_, ec);
      return false;
    }
    return true;
  }

 private:
  std::filesystem::path path_;
  std::filesystem::path tmp_;
  File file_;
};

bool WriteFiles(const SynthOptions& options, const std::string& payer_id,
                const std::filesystem::path& out_dir, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) {
    error = "cannot create directory " + out_dir.string() + ": " + ec.message();
    return false;
  }
  AtomicFile csv(out_dir / "members.csv");
  AtomicFile expected(out_dir / "expected.json");
  if (!csv.Open(error) || !expected.Open(error)) return false;

  const Synth synth(options);
  std::string row;
  std::string entry;
  bool ok = csv.Write(kCsvHeader) && expected.Write("{\"members\":[\n");
  for (uint64_t i = 0; ok && i < synth.size(); ++i) {
    const SynthMember m = synth.Member(i);
    row.clear();
    for (std::string_view field :
         {std::string_view(m.member_key), std::string_view(payer_id), std::string_view(m.given),
          std::string_view(m.family), std::string_view(m.roster_birth_date),
          std::string_view(m.gender), std::string_view(m.coverage_id),
          std::string_view(m.new_coverage_id), std::string_view(m.coverage_start),
          std::string_view(m.opt_in_date), std::string_view(m.consent_start),
          std::string_view(m.consent_end), std::string_view(m.consent_policy)}) {
      AppendCsvField(row, field);
      row.push_back(',');
    }
    row.back() = '\n';

    entry.clear();
    if (i > 0) entry.append(",\n");
    entry.append("{\"member_key\":\"");
    entry.append(m.member_key);
    entry.append("\",\"outcome\":\"");
    entry.append(Outcome(m.kind));
    entry.push_back('"');
    if (m.kind == MemberKind::kMatch) {
      entry.append(",\"resources\":{");
      bool first = true;
      for (std::string_view type : Synth::Types()) {
        if (!first) entry.push_back(',');
        first = false;
        AppendJsonList(entry, synth, i, type);
      }
      entry.push_back('}');
    }
    entry.push_back('}');
    ok = csv.Write(row) && expected.Write(entry);
  }
  ok = ok && expected.Write("\n]}\n");
  if (!ok) {
    error = std::string("cannot write roster files in ") + out_dir.string() + ": " +
            std::strerror(errno);
    return false;
  }
  return csv.Commit(error) && expected.Commit(error);
}

}  // namespace

int WriteRoster(const SynthOptions& options, const std::string& payer_id,
                const std::filesystem::path& out_dir) {
  std::string error;
  if (!WriteFiles(options, payer_id, out_dir, error)) {
    std::fprintf(stderr, "p2p-sandbox roster: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace p2p::sandbox
