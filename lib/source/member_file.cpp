#include "source/member_file.h"

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>

namespace p2p::source {
namespace {

constexpr size_t kMaxRowBytes = 64 * 1024;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

// Columns a file must have; gender and new_coverage_id may be left out.
bool IsOptionalColumn(std::string_view name) {
  if (name == "gender" || name == "new_coverage_id") return true;
  const auto& lifecycle = LifecycleColumns();
  return std::find(lifecycle.begin(), lifecycle.end(), name) != lifecycle.end();
}

// MemberColumns() then LifecycleColumns().
const std::vector<std::string_view>& AllColumns() {
  static const std::vector<std::string_view> kAll = [] {
    std::vector<std::string_view> v = MemberColumns();
    for (std::string_view c : LifecycleColumns()) v.push_back(c);
    return v;
  }();
  return kAll;
}

std::string* RowField(MemberRow& row, std::string_view name) {
  if (name == "member_key") return &row.member_key;
  if (name == "prior_payer") return &row.prior_payer;
  if (name == "given") return &row.given;
  if (name == "family") return &row.family;
  if (name == "birth_date") return &row.birth_date;
  if (name == "gender") return &row.gender;
  if (name == "prior_coverage_id") return &row.prior_coverage_id;
  if (name == "new_coverage_id") return &row.new_coverage_id;
  if (name == "coverage_start") return &row.coverage_start;
  if (name == "opt_in_date") return &row.opt_in_date;
  if (name == "consent_start") return &row.consent_start;
  if (name == "consent_end") return &row.consent_end;
  if (name == "consent_policy") return &row.consent_policy;
  if (name == "concurrent") return &row.concurrent;
  if (name == "coverage_end") return &row.coverage_end;
  if (name == "consent_revoked") return &row.consent_revoked;
  return nullptr;
}

// Validates, then keeps the first row per (member_key, prior_payer).
class RowSink {
 public:
  RowSink(const std::vector<std::string>& known_payers, const RowVisitor& visitor)
      : known_payers_(known_payers), visitor_(visitor) {}

  Result<void> Add(uint64_t line, MemberRow row, size_t consumed) {
    problems_.clear();
    const bool valid = ValidateMemberRow(row, line, known_payers_, problems_);
    for (RowProblem& p : problems_) visitor_.problem(std::move(p));
    if (!valid) return Ok();
    std::string key = row.member_key;
    key += '\0';
    key += row.prior_payer;
    if (row.IsConsentRevoked()) {  // a revocation may follow the row it revokes
      key += '\0';
      key += "revoked";
    }
    auto first = visitor_.first_line(key, line);
    if (!first) return std::move(first).error();
    if (*first != line) {
      Problem(line, "", "duplicate of line " + std::to_string(*first));
      return Ok();
    }
    return visitor_.row(line, std::move(row), consumed);
  }
  void Problem(uint64_t line, std::string_view field, std::string reason) {
    visitor_.problem(RowProblem{line, std::string(field), std::move(reason)});
  }

 private:
  const std::vector<std::string>& known_payers_;
  const RowVisitor& visitor_;
  std::vector<RowProblem> problems_;
};

bool IsValidUtf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

// One CSV record (RFC 4180). Reading never fails: malformed quoting is flagged and the
// scanner still finds the record's end, so the next row is read correctly.
struct CsvRecord {
  uint64_t line = 0;  // physical line where the record starts
  size_t bytes = 0;   // raw size, line break excluded
  std::vector<std::string> fields;
  bool malformed = false;     // a quote inside an unquoted field, or text after a closing quote
  bool unterminated = false;  // end of file inside a quoted field
};

class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : s_(text) {}

  bool Next(CsvRecord& rec) {
    if (pos_ >= s_.size()) return false;
    rec = CsvRecord{};
    rec.line = line_;
    const size_t start = pos_;
    enum class St { kFieldStart, kUnquoted, kQuoted, kAfterQuote } st = St::kFieldStart;
    std::string field;
    size_t end = s_.size();
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (st == St::kQuoted) {
        ++pos_;
        if (c == '"') {
          if (pos_ < s_.size() && s_[pos_] == '"') {
            field += '"';
            ++pos_;
          } else {
            st = St::kAfterQuote;
          }
        } else {
          if (c == '\n') ++line_;
          field += c;
        }
        continue;
      }
      // LF or CRLF ends the record (a CR just before the end of the file too).
      const bool crlf = c == '\r' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '\n';
      if (c == '\n' || crlf || (c == '\r' && pos_ + 1 == s_.size())) {
        end = pos_;
        pos_ += crlf ? 2 : 1;
        if (c == '\n' || crlf) ++line_;
        break;
      }
      ++pos_;
      if (c == ',') {
        rec.fields.push_back(std::move(field));
        field.clear();
        st = St::kFieldStart;
      } else if (c == '"' && st == St::kFieldStart) {
        st = St::kQuoted;
      } else {
        if (c == '"' || st == St::kAfterQuote) rec.malformed = true;
        field += c;
        st = St::kUnquoted;
      }
    }
    if (st == St::kQuoted) rec.unterminated = true;
    rec.fields.push_back(std::move(field));
    rec.bytes = std::min(end, s_.size()) - start;
    return true;
  }
  size_t consumed() const { return pos_; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  uint64_t line_ = 1;
};

bool IsBlankRecord(const CsvRecord& rec) { return rec.bytes == 0; }

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::string_view StripBom(std::string_view text) {
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  return text;
}

}  // namespace

Result<void> VisitMemberCsv(std::string_view text, const std::vector<std::string>& known_payers,
                            const RowVisitor& visitor) {
  RowSink sink(known_payers, visitor);
  const size_t bom = text.size() - StripBom(text).size();
  text = StripBom(text);
  CsvReader reader(text);
  CsvRecord rec;
  // Header: the first non-blank record.
  bool have_header = false;
  while (reader.Next(rec)) {
    if (!IsBlankRecord(rec)) {
      have_header = true;
      break;
    }
  }
  if (!have_header) {
    sink.Problem(0, "", "empty file");
    return Ok();
  }
  const uint64_t header_line = rec.line;
  if (rec.bytes > kMaxRowBytes || rec.malformed || rec.unterminated) {
    sink.Problem(header_line, "", "unreadable header row");
    return Ok();
  }
  const size_t field_count = rec.fields.size();
  // column index per AllColumns() entry, or npos
  const auto& columns = AllColumns();
  std::vector<size_t> index(columns.size(), std::string::npos);
  for (size_t i = 0; i < rec.fields.size(); ++i) {
    const std::string_view name = TrimSpaces(rec.fields[i]);
    for (size_t k = 0; k < columns.size(); ++k) {
      if (columns[k] == name && index[k] == std::string::npos) index[k] = i;
    }
  }
  std::string missing;
  for (size_t k = 0; k < columns.size(); ++k) {
    if (index[k] != std::string::npos || IsOptionalColumn(columns[k])) continue;
    if (!missing.empty()) missing += ", ";
    missing += columns[k];
  }
  if (!missing.empty()) {
    sink.Problem(header_line, "", "missing columns: " + missing);
    return Ok();
  }

  while (reader.Next(rec)) {
    if (IsBlankRecord(rec)) continue;
    if (rec.bytes > kMaxRowBytes) {
      sink.Problem(rec.line, "", "row longer than 64 KiB");
      continue;
    }
    if (rec.unterminated) {
      sink.Problem(rec.line, "", "unterminated quoted field");
      continue;
    }
    if (rec.malformed) {
      sink.Problem(rec.line, "", "malformed quoting");
      continue;
    }
    if (rec.fields.size() != field_count) {
      sink.Problem(rec.line, "",
                   "expected " + std::to_string(field_count) + " fields, found " +
                       std::to_string(rec.fields.size()));
      continue;
    }
    MemberRow row;
    bool utf8_ok = true;
    for (size_t k = 0; k < columns.size(); ++k) {
      if (index[k] == std::string::npos) continue;
      std::string& value = rec.fields[index[k]];
      if (!IsValidUtf8(value)) {
        sink.Problem(rec.line, columns[k], "not valid UTF-8");
        utf8_ok = false;
        continue;
      }
      *RowField(row, columns[k]) = std::move(value);
    }
    if (!utf8_ok) continue;
    if (auto r = sink.Add(rec.line, std::move(row), bom + reader.consumed()); !r) return r;
  }
  return Ok();
}

Result<void> VisitMemberNdjson(std::string_view text, const std::vector<std::string>& known_payers,
                               const RowVisitor& visitor) {
  RowSink sink(known_payers, visitor);
  const size_t bom = text.size() - StripBom(text).size();
  text = StripBom(text);
  simdjson::dom::parser parser;
  std::string buffer;  // one line plus simdjson's padding, reused
  uint64_t line_no = 0;
  bool any_line = false;
  size_t pos = 0;
  while (pos < text.size()) {
    ++line_no;
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t'; })) {
      continue;
    }
    any_line = true;
    if (line.size() > kMaxRowBytes) {
      sink.Problem(line_no, "", "row longer than 64 KiB");
      continue;
    }
    buffer.assign(line.data(), line.size());
    buffer.resize(line.size() + simdjson::SIMDJSON_PADDING);
    simdjson::dom::element doc;
    const auto err = parser.parse(buffer.data(), line.size(), false).get(doc);
    if (err == simdjson::UTF8_ERROR) {
      sink.Problem(line_no, "", "not valid UTF-8");
      continue;
    }
    if (err) {
      sink.Problem(line_no, "", "not valid JSON");
      continue;
    }
    simdjson::dom::object object;
    if (doc.get_object().get(object)) {
      sink.Problem(line_no, "", "not a JSON object");
      continue;
    }
    MemberRow row;
    bool types_ok = true;
    for (auto [key, value] : object) {
      std::string* target = RowField(row, key);
      if (target == nullptr) continue;  // unknown keys are ignored
      std::string_view str;
      if (value.get_string().get(str)) {
        sink.Problem(line_no, key, "must be a string");
        types_ok = false;
        continue;
      }
      target->assign(str);
    }
    if (!types_ok) continue;
    if (auto r = sink.Add(line_no, std::move(row), bom + std::min(pos, text.size())); !r) return r;
  }
  if (!any_line) sink.Problem(0, "", "empty file");
  return Ok();
}

RowVisitor CollectInto(ParsedMembers& out, std::unordered_map<std::string, uint64_t>& first) {
  RowVisitor v;
  v.row = [&out](uint64_t line, MemberRow&& row, size_t) -> Result<void> {
    out.rows.emplace_back(line, std::move(row));
    return Ok();
  };
  v.problem = [&out](RowProblem&& p) { out.problems.push_back(std::move(p)); };
  v.first_line = [&first](const std::string& key, uint64_t line) -> Result<uint64_t> {
    return first.emplace(key, line).first->second;
  };
  return v;
}

ParsedMembers ParseMemberCsv(std::string_view text, const std::vector<std::string>& known_payers) {
  ParsedMembers out;
  std::unordered_map<std::string, uint64_t> first;
  (void)VisitMemberCsv(text, known_payers, CollectInto(out, first));  // its callbacks never fail
  return out;
}

ParsedMembers ParseMemberNdjson(std::string_view text,
                                const std::vector<std::string>& known_payers) {
  ParsedMembers out;
  std::unordered_map<std::string, uint64_t> first;
  (void)VisitMemberNdjson(text, known_payers, CollectInto(out, first));
  return out;
}

}  // namespace p2p::source
