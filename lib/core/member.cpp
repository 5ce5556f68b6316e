#include "core/member.h"

#include <algorithm>
#include <utility>

#include "core/civil_date.h"

namespace p2p {
namespace {

constexpr size_t kMaxNameBytes = 200;
constexpr size_t kMaxIdBytes = 128;

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one (overlongs,
// surrogates and code points over U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool HasControlChars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

bool IsMemberKey(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdBytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

class Checker {
 public:
  Checker(uint64_t line, std::vector<RowProblem>& problems) : line_(line), problems_(problems) {}

  void Add(std::string_view field, std::string reason) {
    problems_.push_back(RowProblem{line_, std::string(field), std::move(reason)});
    ok_ = false;
  }
  // Free text (names, identifiers): required, bounded, valid UTF-8, no control characters.
  void Text(std::string_view field, std::string_view value, size_t max_bytes, bool required) {
    if (IsBlank(value)) {
      if (required) Add(field, "required");
      return;
    }
    if (value.size() > max_bytes) {
      Add(field, "longer than " + std::to_string(max_bytes) + " bytes");
    } else if (!IsValidUtf8(value)) {
      Add(field, "not valid UTF-8");
    } else if (HasControlChars(value)) {
      Add(field, "contains control characters");
    }
  }
  std::optional<int64_t> Date(std::string_view field, std::string_view value) {
    if (value.empty()) {
      Add(field, "required");
      return std::nullopt;
    }
    auto days = ParseCivilDate(value);
    if (!days) Add(field, "must be a date YYYY-MM-DD");
    return days;
  }
  bool ok() const { return ok_; }

 private:
  uint64_t line_;
  std::vector<RowProblem>& problems_;
  bool ok_ = true;
};

void AppendResourceId(std::string& out, std::string_view resource_type, std::string_view id) {
  out += R"("resourceType":")";
  out += resource_type;
  out += R"(","id":")";
  out += id;
  out += '"';
}

void AppendCoverage(std::string& out, std::string_view param, std::string_view id,
                    std::string_view identifier, std::string_view payor_display) {
  out += R"({"name":")";
  out += param;
  out += R"(","resource":{)";
  AppendResourceId(out, "Coverage", id);
  out += R"(,"status":"active","identifier":[{"value":)";
  AppendJsonString(out, identifier);
  out += R"(}],"beneficiary":{"reference":"Patient/member"},"payor":[{"display":)";
  AppendJsonString(out, payor_display);
  out += "}]}}";
}

}  // namespace

const std::vector<std::string_view>& MemberColumns() {
  static const std::vector<std::string_view> kColumns = {
      "member_key",    "prior_payer",       "given",           "family",         "birth_date",
      "gender",        "prior_coverage_id", "new_coverage_id", "coverage_start", "opt_in_date",
      "consent_start", "consent_end",       "consent_policy",
  };
  return kColumns;
}

const std::vector<std::string_view>& LifecycleColumns() {
  static const std::vector<std::string_view> kColumns = {"concurrent", "coverage_end",
                                                         "consent_revoked"};
  return kColumns;
}

bool ValidateMemberRow(const MemberRow& row, uint64_t line,
                       const std::vector<std::string>& known_payers,
                       std::vector<RowProblem>& problems) {
  Checker c(line, problems);
  if (row.member_key.empty()) {
    c.Add("member_key", "required");
  } else if (!IsMemberKey(row.member_key)) {
    c.Add("member_key", "must be 1..128 characters of A-Z a-z 0-9 . _ -");
  }
  if (row.prior_payer.empty()) {
    c.Add("prior_payer", "required");
  } else if (std::find(known_payers.begin(), known_payers.end(), row.prior_payer) ==
             known_payers.end()) {
    c.Add("prior_payer", "not a configured payer id");
  }
  c.Text("given", row.given, kMaxNameBytes, true);
  c.Text("family", row.family, kMaxNameBytes, true);
  c.Date("birth_date", row.birth_date);
  if (!row.gender.empty() && row.gender != "male" && row.gender != "female" &&
      row.gender != "other" && row.gender != "unknown") {
    c.Add("gender", "must be male, female, other or unknown");
  }
  c.Text("prior_coverage_id", row.prior_coverage_id, kMaxIdBytes, true);
  c.Text("new_coverage_id", row.new_coverage_id, kMaxIdBytes, false);
  c.Date("coverage_start", row.coverage_start);
  c.Date("opt_in_date", row.opt_in_date);
  const auto start = c.Date("consent_start", row.consent_start);
  const auto end = c.Date("consent_end", row.consent_end);
  if (start && end && *end < *start) c.Add("consent_end", "before consent_start");
  for (auto [field, value] : {std::pair<std::string_view, const std::string*>{"concurrent",
                                                                              &row.concurrent},
                              {"consent_revoked", &row.consent_revoked}}) {
    if (!value->empty() && *value != "true" && *value != "false") {
      c.Add(field, "must be true or false");
    }
  }
  if (!row.coverage_end.empty()) {
    const auto cov_end = c.Date("coverage_end", row.coverage_end);
    const auto cov_start = ParseCivilDate(row.coverage_start);
    if (cov_end && cov_start && *cov_end < *cov_start) c.Add("coverage_end", "before coverage_start");
  }
  if (row.consent_policy.empty()) {
    c.Add("consent_policy", "required");
  } else if (row.consent_policy != "regular" && row.consent_policy != "sensitive") {
    c.Add("consent_policy", "must be regular or sensitive");
  }
  return c.ok();
}

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {  // not UTF-8: keep the output valid JSON
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    if (u == '"') {
      out += "\\\"";
    } else if (u == '\\') {
      out += "\\\\";
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += static_cast<char>(u);
    }
    ++i;
  }
  out += '"';
}

std::string BuildMemberMatchBody(const MemberRow& row, const ConsentParties& parties) {
  std::string out;
  out.reserve(1024);
  out += R"({"resourceType":"Parameters","parameter":[)";

  // MemberPatient
  out += R"({"name":"MemberPatient","resource":{)";
  AppendResourceId(out, "Patient", "member");
  out += R"(,"name":[{"family":)";
  AppendJsonString(out, row.family);
  out += R"(,"given":[)";
  bool first = true;
  std::string_view given = row.given;
  while (!given.empty()) {
    const size_t sp = given.find(' ');
    const std::string_view part = given.substr(0, sp);
    given = sp == std::string_view::npos ? std::string_view() : given.substr(sp + 1);
    if (part.empty()) continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, part);
  }
  out += "]}]";
  if (!row.gender.empty()) {
    out += R"(,"gender":)";
    AppendJsonString(out, row.gender);
  }
  out += R"(,"birthDate":)";
  AppendJsonString(out, row.birth_date);
  out += "}},";

  AppendCoverage(out, "CoverageToMatch", "coverage-to-match", row.prior_coverage_id, "prior payer");
  out += ',';
  if (!row.new_coverage_id.empty()) {
    AppendCoverage(out, "CoverageToLink", "coverage-to-link", row.new_coverage_id, "new payer");
    out += ',';
  }

  out += R"({"name":"Consent","resource":)";
  AppendConsent(out, row, parties);
  out += "}]}";
  return out;
}

}  // namespace p2p
