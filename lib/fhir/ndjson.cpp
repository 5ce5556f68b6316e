#include "fhir/ndjson.h"

#include <simdjson.h>

#include <cstring>
#include <utility>

#include "fhir/line_scan.h"
#include "fhir/padded_buffer.h"

namespace p2p::fhir {

static_assert(kLinePadding == simdjson::SIMDJSON_PADDING);

// ---------------------------------------------------------------------------------------------
// NdjsonSplitter
//
// Invariants: `partial_` holds the start of the current line when it began in an earlier chunk
// (never more than max_line_ + 1 bytes: the +1 leaves room for a '\r' before the '\n');
// `skipping_` is set while the rest of an overlong line (already counted and reported) is
// being discarded.

NdjsonSplitter::NdjsonSplitter(size_t max_line_bytes, LineFn on_line, OverlongFn on_overlong)
    : max_line_(max_line_bytes),
      on_line_(std::move(on_line)),
      on_overlong_(std::move(on_overlong)) {}

namespace {

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

// One complete line (without '\n', already counted): strips one '\r', then reports it as
// overlong, skips it as blank, or hands it to on_line.
Result<void> DeliverLine(std::string_view line, size_t max_line, uint64_t line_no,
                         const NdjsonSplitter::LineFn& on_line,
                         const NdjsonSplitter::OverlongFn& on_overlong) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > max_line) {
    if (on_overlong) on_overlong(line_no);
    return Ok();
  }
  if (IsBlank(line)) return Ok();
  return on_line(line, line_no);
}

}  // namespace

Result<void> NdjsonSplitter::Feed(std::string_view chunk) {
  bytes_ += chunk.size();
  const char* p = chunk.data();
  const char* const end = p + chunk.size();
  while (p < end) {
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (skipping_) {
      if (nl == nullptr) return Ok();
      skipping_ = false;
      p = nl + 1;
      continue;
    }
    if (nl == nullptr) {
      // The chunk ends mid-line: keep the start, unless it is already too long.
      const auto n = static_cast<size_t>(end - p);
      if (partial_.size() + n > max_line_ + 1) {
        partial_.clear();
        skipping_ = true;
        ++line_no_;
        if (on_overlong_) on_overlong_(line_no_);
        return Ok();
      }
      partial_.append(p, n);
      return Ok();
    }
    const auto n = static_cast<size_t>(nl - p);
    if (partial_.empty()) {
      // Hot path: the whole line is inside this chunk; no copy.
      p = nl + 1;
      ++line_no_;
      Result<void> r =
          DeliverLine(std::string_view(nl - n, n), max_line_, line_no_, on_line_, on_overlong_);
      if (!r) return r;
      continue;
    }
    p = nl + 1;
    ++line_no_;
    if (partial_.size() + n > max_line_ + 1) {
      partial_.clear();
      if (on_overlong_) on_overlong_(line_no_);
      continue;
    }
    partial_.append(nl - n, n);
    Result<void> r = DeliverPartial();
    if (!r) return r;
  }
  return Ok();
}

Result<void> NdjsonSplitter::DeliverPartial() {
  // Padded (see the header): a line in this buffer is followed by kLinePadding readable bytes.
  const size_t n = partial_.size();
  partial_.append(kLinePadding, '\0');
  Result<void> r = DeliverLine(std::string_view(partial_.data(), n), max_line_, line_no_, on_line_,
                               on_overlong_);
  partial_.clear();
  return r;
}

Result<void> NdjsonSplitter::Finish() {
  if (skipping_) {
    skipping_ = false;
    return Ok();
  }
  if (partial_.empty()) return Ok();
  ++line_no_;
  return DeliverPartial();
}

// ---------------------------------------------------------------------------------------------
// LineChecker

std::string_view LineProblemName(LineProblem p) {
  switch (p) {
    case LineProblem::kNone:
      return "none";
    case LineProblem::kNotJson:
      return "not_json";
    case LineProblem::kNotObject:
      return "not_object";
    case LineProblem::kNoResourceType:
      return "no_resource_type";
    case LineProblem::kWrongResourceType:
      return "wrong_resource_type";
    case LineProblem::kNoId:
      return "no_id";
    case LineProblem::kBadId:
      return "bad_id";
    case LineProblem::kTooLong:
      return "too_long";
    case LineProblem::kNotUtf8:
      return "not_utf8";
  }
  return "unknown";
}

bool IsFhirId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool IsFhirTypeName(std::string_view type) {
  if (type.size() < 2 || type.size() > 64) return false;
  if (type[0] < 'A' || type[0] > 'Z') return false;
  for (char c : type.substr(1)) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

// Each line goes to StructuralScan first (simdjson's stage 1 and a grammar walk over its index,
// about half the cost of a DOM parse); whatever it does not accept goes to a DOM parser (not
// on-demand), which validates the whole line, including values we never read: a line that
// reaches a store must be valid JSON. So the DOM parser is the judge of every line the scan does
// not pass, and gives the problem of every bad one. The parsers' buffers and `buf` only grow, so
// after the longest line has been seen Check() does not allocate. Strings come from the line
// itself (scan) or the DOM parser's string buffer, both of which stay put until the next Check():
// that is what keeps CheckedLine::id valid until then.
struct LineChecker::Impl {
  explicit Impl(LineChecker::Mode m) : mode(m) {}

  LineChecker::Mode mode;
  StructuralScan scan;
  simdjson::dom::parser parser;
  PaddedBuffer buf;
  uint64_t scanned = 0;

  CheckedLine Check(const char* padded, size_t size, std::string_view expected_type);
  LineProblem Parse(const char* padded, size_t size, TopLevelFields& fields);
};

LineChecker::LineChecker(Mode mode) : impl_(std::make_unique<Impl>(mode)) {}
LineChecker::~LineChecker() = default;

CheckedLine LineChecker::Check(std::string_view line, std::string_view expected_type) {
  return impl_->Check(impl_->buf.Copy(line), line.size(), expected_type);
}

CheckedLine LineChecker::CheckPadded(std::string_view line, std::string_view expected_type) {
  return impl_->Check(line.data(), line.size(), expected_type);
}

uint64_t LineChecker::scanned() const { return impl_->scanned; }

// The DOM parser's verdict on a line, and its top-level fields when it is an object.
LineProblem LineChecker::Impl::Parse(const char* data, size_t size, TopLevelFields& fields) {
  simdjson::dom::element root;
  const simdjson::error_code parsed = parser.parse(data, size, false).get(root);
  if (parsed != simdjson::SUCCESS) {
    return parsed == simdjson::UTF8_ERROR ? LineProblem::kNotUtf8 : LineProblem::kNotJson;
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return LineProblem::kNotObject;
  // Walk the top-level fields once: resourceType and id may come anywhere, and a repeated key
  // (forbidden in FHIR JSON) must not let another reader see a different type or id.
  for (simdjson::dom::key_value_pair field : obj) {
    if (field.key == "resourceType") {
      ++fields.type_seen;
      fields.type_is_string = field.value.get_string().get(fields.type) == simdjson::SUCCESS;
    } else if (field.key == "id") {
      ++fields.id_seen;
      fields.id_is_string = field.value.get_string().get(fields.id) == simdjson::SUCCESS;
    }
  }
  return LineProblem::kNone;
}

CheckedLine LineChecker::Impl::Check(const char* data, size_t size,
                                     std::string_view expected_type) {
  CheckedLine out;
  TopLevelFields fields;
  if (mode == LineChecker::Mode::kScanFirst && scan.Scan(data, size, fields)) {
    ++scanned;
  } else {
    fields = TopLevelFields{};
    out.problem = Parse(data, size, fields);
    if (out.problem != LineProblem::kNone) return out;
  }
  if (fields.type_seen == 0 || !fields.type_is_string) {
    out.problem = LineProblem::kNoResourceType;
    return out;
  }
  const bool type_ok =
      expected_type.empty() ? IsFhirTypeName(fields.type) : fields.type == expected_type;
  if (fields.type_seen > 1 || !type_ok) {
    out.problem = LineProblem::kWrongResourceType;
    return out;
  }
  if (fields.id_seen == 0) {
    out.problem = LineProblem::kNoId;
    return out;
  }
  if (fields.id_seen > 1 || !fields.id_is_string || !IsFhirId(fields.id)) {
    out.problem = LineProblem::kBadId;
    return out;
  }
  out.id = fields.id;
  return out;
}

}  // namespace p2p::fhir
