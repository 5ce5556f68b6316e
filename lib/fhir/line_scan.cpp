#include "fhir/line_scan.h"

#include <simdjson.h>

#include <cstdint>
#include <cstring>

namespace p2p::fhir {

namespace {

// The grammar walk keeps one bit per open level (set: object), so it stops at this depth and
// leaves deeper lines to the DOM parser (whose limit is 1024). FHIR resources nest about 10 deep.
constexpr uint32_t kMaxDepth = 63;

constexpr bool IsSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
constexpr bool IsDigit(uint8_t c) { return static_cast<unsigned>(c - '0') < 10U; }

// One past the last byte of the token at `pos` whose next structural index is `next`: stage 1
// puts a structural index at every byte outside strings that is neither space nor part of the
// same scalar, so only spaces can come between a token and the next index.
uint32_t TokenEnd(const uint8_t* b, uint32_t pos, uint32_t next) {
  while (next > pos + 1 && IsSpace(b[next - 1])) --next;
  return next;
}

// A JSON number simdjson converts without loss of range: -?(0|[1-9]\d{0,17})(\.\d{1,20})?
// ([eE][+-]?\d{1,2})?, so at most about 1e118 and never 0 by underflow. Longer forms are valid
// JSON too, but simdjson rejects some of them (out of double range): they go to the DOM parser.
bool PlainNumber(const uint8_t* p, const uint8_t* end) {
  if (p < end && *p == '-') ++p;
  const uint8_t* const digits = p;
  if (p < end && *p == '0') {
    ++p;
  } else {
    while (p < end && IsDigit(*p)) ++p;
  }
  if (p == digits || p - digits > 18) return false;
  if (p < end && *p == '.') {
    const uint8_t* const fraction = ++p;
    while (p < end && IsDigit(*p)) ++p;
    if (p == fraction || p - fraction > 20) return false;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    const uint8_t* const exponent = p;
    while (p < end && IsDigit(*p)) ++p;
    if (p == exponent || p - exponent > 2) return false;
  }
  return p == end;
}

// The escapes of a string's content [p, end) are all two-byte ones (\" \\ \/ \b \f \n \r \t).
// \u escapes (whose surrogate rules are simdjson's to judge) and invalid escapes give false.
bool PlainEscapes(const uint8_t* p, const uint8_t* end) {
  while (p < end) {
    const void* hit = std::memchr(p, '\\', static_cast<size_t>(end - p));
    if (hit == nullptr) return true;
    p = static_cast<const uint8_t*>(hit);
    if (end - p < 2) return false;
    switch (p[1]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        p += 2;
        break;
      default:
        return false;
    }
  }
  return true;
}

bool HasBackslash(const uint8_t* p, const uint8_t* end) {
  return std::memchr(p, '\\', static_cast<size_t>(end - p)) != nullptr;
}

// The string token at idx[k]: its text [text, close), `close` at the closing quote.
bool StringAt(const uint8_t* b, const uint32_t* idx, uint32_t k, const uint8_t*& text,
              const uint8_t*& close) {
  const uint32_t quote = idx[k];
  const uint32_t end = TokenEnd(b, quote, idx[k + 1]);
  if (end < quote + 2 || b[end - 1] != '"') return false;
  text = b + quote + 1;
  close = b + end - 1;
  return true;
}

// The string at `pos` (next structural index `next`) has only PlainEscapes.
bool StringEscapes(const uint8_t* b, uint32_t pos, uint32_t next) {
  const uint32_t end = TokenEnd(b, pos, next);
  if (end < pos + 2 || b[end - 1] != '"') return false;
  return PlainEscapes(b + pos + 1, b + end - 1);
}

// The number or literal at `pos` (next structural index `next`) is one simdjson accepts.
bool Scalar(const uint8_t* b, uint32_t pos, uint32_t next) {
  const uint32_t end = TokenEnd(b, pos, next);
  switch (b[pos]) {
    case 't':
      return end - pos == 4 && std::memcmp(b + pos, "true", 4) == 0;
    case 'f':
      return end - pos == 5 && std::memcmp(b + pos, "false", 5) == 0;
    case 'n':
      return end - pos == 4 && std::memcmp(b + pos, "null", 4) == 0;
    default:
      return PlainNumber(b + pos, b + end);
  }
}

// The value starting at `pos` (next structural index `next`): a string or scalar it has checked
// (kDone), an opening bracket, or kBad.
enum class Value { kDone, kObject, kArray, kBad };

inline Value ReadValue(const uint8_t* b, uint32_t pos, uint32_t next, bool escapes) {
  switch (b[pos]) {
    case '"':
      return !escapes || StringEscapes(b, pos, next) ? Value::kDone : Value::kBad;
    case '{':
      return Value::kObject;
    case '[':
      return Value::kArray;
    default:
      return Scalar(b, pos, next) ? Value::kDone : Value::kBad;
  }
}

// The member whose key is idx[k] (':' at k + 1, value from k + 2): checks the key's escapes and,
// at the top level, notes "resourceType" and "id". False when the DOM parser must decide: an
// escaped top-level key (it might unescape to "id"), or an escaped type or id.
bool Key(const uint8_t* b, const uint32_t* idx, uint32_t k, bool top_level, bool escapes,
         TopLevelFields& fields) {
  const uint8_t* key = nullptr;
  const uint8_t* key_close = nullptr;
  if (!StringAt(b, idx, k, key, key_close)) return false;
  if (escapes && HasBackslash(key, key_close)) return !top_level && PlainEscapes(key, key_close);
  if (!top_level) return true;
  const std::string_view name(reinterpret_cast<const char*>(key),
                              static_cast<size_t>(key_close - key));
  const bool is_type = name == "resourceType";
  if (!is_type && name != "id") return true;
  const bool is_string = b[idx[k + 2]] == '"';
  std::string_view value;
  if (is_string) {
    const uint8_t* text = nullptr;
    const uint8_t* close = nullptr;
    if (!StringAt(b, idx, k + 2, text, close)) return false;
    if (escapes && HasBackslash(text, close)) return false;  // the DOM would unescape it
    value = std::string_view(reinterpret_cast<const char*>(text),
                             static_cast<size_t>(close - text));
  }
  (is_type ? fields.type_seen : fields.id_seen)++;
  (is_type ? fields.type_is_string : fields.id_is_string) = is_string;
  if (is_string) (is_type ? fields.type : fields.id) = value;
  return true;
}

}  // namespace

struct StructuralScan::Impl {
  std::unique_ptr<simdjson::internal::dom_parser_implementation> stage1;
  size_t capacity = 0;

  bool Reserve(size_t size);
  bool Walk(const uint8_t* b, uint32_t size, TopLevelFields& out) const;
};

StructuralScan::StructuralScan() : impl_(std::make_unique<Impl>()) {}
StructuralScan::~StructuralScan() = default;

bool StructuralScan::Impl::Reserve(size_t size) {
  if (size <= capacity && stage1) return true;
  size_t want = capacity == 0 ? size_t{64} << 10 : capacity;
  while (want < size) want *= 2;
  if (want > simdjson::SIMDJSON_MAXSIZE_BYTES) return false;
  if (!stage1) {
    if (simdjson::get_active_implementation()->create_dom_parser_implementation(
            want, simdjson::DEFAULT_MAX_DEPTH, stage1) != simdjson::SUCCESS) {
      stage1.reset();
      return false;
    }
  } else if (stage1->set_capacity(want) != simdjson::SUCCESS) {
    stage1.reset();
    capacity = 0;
    return false;
  }
  capacity = want;
  return true;
}

bool StructuralScan::Scan(const char* padded, size_t size, TopLevelFields& out) {
  if (size == 0 || !impl_->Reserve(size)) return false;
  const auto* b = reinterpret_cast<const uint8_t*>(padded);
  if (impl_->stage1->stage1(b, size, simdjson::stage1_mode::regular) != simdjson::SUCCESS) {
    return false;
  }
  return impl_->Walk(b, static_cast<uint32_t>(size), out);
}

// The grammar of RFC 8259 over the structural index, as simdjson's stage 2 checks it, without
// building anything: one loop for object members and one for array values, as in simdjson, with
// a bit per open level saying which loop its closing bracket returns to. `i` is the next index to
// read; every read checks i < n first, so a truncated document ends the walk with false, and
// idx[n] is stage 1's sentinel (== size), so idx[i] after a read always exists. Stage 1 has
// already checked every string (closed, valid UTF-8, no unescaped control character), so a
// string needs no work unless the line holds a backslash.
bool StructuralScan::Impl::Walk(const uint8_t* b, uint32_t size, TopLevelFields& out) const {
  const uint32_t* const idx = stage1->structural_indexes.get();
  const uint32_t n = stage1->n_structural_indexes;
  const bool escapes = HasBackslash(b, b + size);
  TopLevelFields fields;
  if (n < 2 || b[idx[0]] != '{') return false;
  uint32_t i = 1;
  uint32_t depth = 1;
  uint64_t objects = 1;  // bit k: the level k below the current one (bit 0: current) is an object
  if (b[idx[1]] == '}') {
    i = 2;
    goto scope_end;
  }

object_member:  // idx[i] is a key
  if (i + 2 >= n) return false;  // key, ':', value, and something after
  if (b[idx[i]] != '"' || b[idx[i + 1]] != ':') return false;
  if ((depth == 1 || escapes) && !Key(b, idx, i, depth == 1, escapes, fields)) return false;
  i += 2;
  switch (const uint32_t pos = idx[i++]; ReadValue(b, pos, idx[i], escapes)) {
    case Value::kObject:
      goto open_object;
    case Value::kArray:
      goto open_array;
    case Value::kBad:
      return false;
    case Value::kDone:
      break;
  }
object_next:
  if (i >= n) return false;
  switch (b[idx[i++]]) {
    case ',':
      goto object_member;
    case '}':
      goto scope_end;
    default:
      return false;
  }

array_value:  // idx[i] is a value
  if (i >= n) return false;
  switch (const uint32_t pos = idx[i++]; ReadValue(b, pos, idx[i], escapes)) {
    case Value::kObject:
      goto open_object;
    case Value::kArray:
      goto open_array;
    case Value::kBad:
      return false;
    case Value::kDone:
      break;
  }
array_next:
  if (i >= n) return false;
  switch (b[idx[i++]]) {
    case ',':
      goto array_value;
    case ']':
      goto scope_end;
    default:
      return false;
  }

open_object:
  if (++depth > kMaxDepth || i >= n) return false;
  objects = (objects << 1) | 1U;
  if (b[idx[i]] == '}') {
    ++i;
    goto scope_end;
  }
  goto object_member;

open_array:
  if (++depth > kMaxDepth || i >= n) return false;
  objects <<= 1;
  if (b[idx[i]] == ']') {
    ++i;
    goto scope_end;
  }
  goto array_value;

scope_end:
  --depth;
  objects >>= 1;
  if (depth == 0) {
    if (i != n) return false;
    out = fields;
    return true;
  }
  if ((objects & 1U) != 0) goto object_next;
  goto array_next;
}

}  // namespace p2p::fhir
