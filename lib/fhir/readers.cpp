#include "fhir/readers.h"

#include <simdjson.h>

#include <algorithm>
#include <utility>

#include "core/retry_policy.h"
#include "fhir/answer_json.h"
#include "fhir/ndjson.h"
#include "fhir/resource_types.h"

namespace p2p::fhir {
namespace {

using simdjson::SUCCESS;
using namespace answer_json;

constexpr size_t kMaxAccessToken = 8192;
constexpr size_t kMaxInstant = 64;
constexpr size_t kMaxParameters = 1000;  // parameters looked at in one Parameters
constexpr int64_t kMaxCount = 1'000'000'000'000;
constexpr int64_t kMaxBatches = 1'000'000'000;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Token endpoint

Result<TokenResponse> ReadTokenResponse(std::string_view body) {
  constexpr std::string_view kCtx = "token response";
  dom::parser parser;
  auto root = ParseObject(parser, body, kCtx);
  if (!root) return std::move(root).error();
  TokenResponse out;

  std::string_view s;
  auto got = GetString(*root, "access_token", kMaxAccessToken, kCtx, "access_token", s);
  if (!got) return std::move(got).error();
  if (!*got) return Protocol(kCtx, "access_token", "missing");
  if (s.empty()) return Protocol(kCtx, "access_token", "empty");
  if (!IsUrlText(s)) return Protocol(kCtx, "access_token", "not a printable token");
  out.access_token = std::string(s);

  got = GetString(*root, "token_type", kMaxCode, kCtx, "token_type", s);
  if (!got) return std::move(got).error();
  if (*got && !EqualsNoCase(s, "bearer")) return Protocol(kCtx, "token_type", "not Bearer");
  out.token_type = "Bearer";

  // expires_in: an integer; tolerated as an integral double or a string of digits.
  dom::element e;
  if (Lookup(*root, "expires_in", e)) {
    int64_t secs = 0;
    double d = 0;
    std::string_view digits;
    if (e.is_int64()) {
      secs = e.get_int64().value_unsafe();
    } else if (e.get_double().get(d) == SUCCESS) {
      if (!(d >= -1e12 && d <= 1e12)) return Protocol(kCtx, "expires_in", "out of range");
      secs = static_cast<int64_t>(d);
    } else if (e.get_string().get(digits) == SUCCESS && !digits.empty() && digits.size() <= 12 &&
               std::all_of(digits.begin(), digits.end(),
                           [](char c) { return c >= '0' && c <= '9'; })) {
      secs = std::stoll(std::string(digits));
    } else {
      return Protocol(kCtx, "expires_in", "not a number");
    }
    out.expires_in = std::clamp<int64_t>(secs, 1, 86400);
  }

  got = GetString(*root, "scope", kMaxUrl, kCtx, "scope", s);
  if (!got) return std::move(got).error();
  if (*got) out.scope = std::string(s);
  return out;
}

std::string ReadOAuthError(std::string_view body) {
  dom::parser parser;
  auto root = ParseObject(parser, body, "oauth error");
  if (!root) return {};
  std::string_view code;
  dom::element e;
  if (!Lookup(*root, "error", e) || e.get_string().get(code) != SUCCESS) return {};
  // RFC 6749 §5.2: error codes are printable ASCII without '"' and '\'.
  if (code.empty() || code.size() > kMaxCode) return {};
  for (char c : code) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return {};
  }
  return std::string(code);
}

// ---------------------------------------------------------------------------------------------
// $member-match

namespace {

// The id in "Group/<id>", "https://host/base/Group/<id>" or ".../Group/<id>/_history/<v>";
// "" when the reference is not to a Group.
std::string_view GroupIdFromReference(std::string_view ref) {
  const size_t hist = ref.find("/_history/");
  if (hist != std::string_view::npos) ref = ref.substr(0, hist);
  const size_t slash = ref.rfind('/');
  if (slash == std::string_view::npos) return {};
  const std::string_view head = ref.substr(0, slash);
  if (head != "Group" && !(head.size() > 6 && head.substr(head.size() - 6) == "/Group")) return {};
  return ref.substr(slash + 1);
}

}  // namespace

Result<MemberMatchResult> ReadMemberMatch(std::string_view body) {
  constexpr std::string_view kCtx = "member-match answer";
  dom::parser parser;
  auto root = ParseObject(parser, body, kCtx);
  if (!root) return std::move(root).error();
  MemberMatchResult out;
  bool have_group = false;
  auto take_group = [&](std::string_view id) {
    if (!have_group) {
      out.group_id = std::string(id.substr(0, kMaxUrl));
      have_group = true;
    }
  };

  dom::element e;
  std::string_view s;
  std::string_view type;
  if (Lookup(*root, "resourceType", e) && e.get_string().get(type) == SUCCESS) {
    if (type == "Group") {  // a bare Group instead of Parameters
      if (Lookup(*root, "id", e) && e.get_string().get(s) == SUCCESS) take_group(s);
    } else if (type != "Parameters") {
      return Protocol(kCtx, "resourceType", "not Parameters");
    }
  } else if (Lookup(*root, "groupId", e) && e.get_string().get(s) == SUCCESS) {
    take_group(s);  // plain JSON {"groupId": "..."}
  }

  std::vector<dom::object> params;
  if (Lookup(*root, "parameter", e)) {
    dom::array arr;
    if (e.get_array().get(arr) != SUCCESS) return Protocol(kCtx, "parameter", "not an array");
    for (dom::element item : arr) {
      if (params.size() >= kMaxParameters) break;
      dom::object p;
      if (item.get_object().get(p) == SUCCESS) params.push_back(p);
    }
  }
  for (dom::object p : params) {
    std::string_view name;
    if (Lookup(p, "name", e)) name = StringOrEmpty(e);

    if (EqualsNoCase(name, "groupId")) {
      for (std::string_view key : {"valueString", "valueId", "valueCode"}) {
        if (Lookup(p, key, e) && e.get_string().get(s) == SUCCESS) take_group(s);
      }
    }
    dom::object obj;
    if (Lookup(p, "valueReference", e) && e.get_object().get(obj) == SUCCESS &&
        Lookup(obj, "reference", e) && e.get_string().get(s) == SUCCESS) {
      const std::string_view id = GroupIdFromReference(s);
      if (!id.empty()) take_group(id);
    }
    if (Lookup(p, "resource", e) && e.get_object().get(obj) == SUCCESS &&
        Lookup(obj, "resourceType", e) && e.get_string().get(type) == SUCCESS && type == "Group" &&
        Lookup(obj, "id", e) && e.get_string().get(s) == SUCCESS) {
      take_group(s);
    }
    // HRex STU 1: MemberIdentifier; some servers call it MemberId (STU 1.1 uses MemberId for a
    // Patient reference, which is not an identifier and is ignored here).
    if ((name == "MemberIdentifier" || name == "MemberId") && out.member_identifier.empty() &&
        Lookup(p, "valueIdentifier", e) && e.get_object().get(obj) == SUCCESS &&
        Lookup(obj, "value", e) && e.get_string().get(s) == SUCCESS && !s.empty()) {
      if (s.size() > kMaxCode) {
        return Fail(ErrorKind::kTooLarge, kCtx, "MemberIdentifier",
                    "longer than " + std::to_string(kMaxCode) + " bytes");
      }
      out.member_identifier = std::string(s);
    }
  }

  if (have_group && !IsFhirId(out.group_id)) return Protocol(kCtx, "", "group id is not a FHIR id");
  if (!have_group && out.member_identifier.empty()) {
    return Protocol(kCtx, "", "no group id and no MemberIdentifier");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Kick-off

Result<std::string> ReadKickoff(std::string_view content_location, std::string_view body) {
  constexpr std::string_view kCtx = "kick-off answer";
  const std::string_view loc = Trim(content_location);
  if (!loc.empty()) {
    if (loc.size() > kMaxUrl) {
      return Fail(ErrorKind::kTooLarge, kCtx, "Content-Location",
                  "longer than " + std::to_string(kMaxUrl) + " bytes");
    }
    if (!IsUrlText(loc)) return Protocol(kCtx, "Content-Location", "not a URL");
    return std::string(loc);
  }
  const Error none = Protocol(kCtx, "", "no Content-Location and no \"Track job at\" URL");
  if (Trim(body).empty()) return none;

  dom::parser parser;
  auto root = ParseObject(parser, body, kCtx);
  if (!root) return std::move(root).error();
  const auto issues = OutcomeIssues(*root);
  if (!issues) return none;
  constexpr std::string_view kMarker = "track job at ";
  for (dom::object issue : *issues) {
    std::string_view texts[2];
    IssueTexts(issue, texts[0], texts[1]);
    for (std::string_view t : texts) {
      const size_t at = FindNoCase(t, kMarker);
      if (at == std::string_view::npos) continue;
      std::string_view url = t.substr(at + kMarker.size());
      while (!url.empty() && IsSpace(url.front())) url.remove_prefix(1);
      size_t len = 0;
      while (len < url.size() && !IsSpace(url[len])) ++len;
      url = url.substr(0, len);
      // Sentence punctuation after the URL ("... at https://x/job/1.") is not part of it.
      while (!url.empty() && (url.back() == '.' || url.back() == ',' || url.back() == ';')) {
        url.remove_suffix(1);
      }
      if (url.empty()) continue;
      if (url.size() > kMaxUrl) {
        return Fail(ErrorKind::kTooLarge, kCtx, "Track job at",
                    "longer than " + std::to_string(kMaxUrl) + " bytes");
      }
      if (!IsUrlText(url)) return Protocol(kCtx, "Track job at", "not a URL");
      return std::string(url);
    }
  }
  return none;
}

// ---------------------------------------------------------------------------------------------
// Status

namespace {

std::optional<ExportStatus> MapStatus(std::string_view s) {
  for (std::string_view v :
       {"running", "in-progress", "in_progress", "inprogress", "queued", "pending", "accepted"}) {
    if (EqualsNoCase(s, v)) return ExportStatus::kRunning;
  }
  for (std::string_view v : {"successful", "success", "completed", "complete", "done"}) {
    if (EqualsNoCase(s, v)) return ExportStatus::kComplete;
  }
  for (std::string_view v : {"failed", "failure", "error", "cancelled", "canceled"}) {
    if (EqualsNoCase(s, v)) return ExportStatus::kFailed;
  }
  return std::nullopt;
}

// "45%", "45% complete", " 45.5 %" -> 45; anything else -> -1.
int ParseXProgress(std::string_view s) {
  s = Trim(s);
  int value = 0;
  size_t i = 0;
  while (i < s.size() && i < 4 && s[i] >= '0' && s[i] <= '9') value = value * 10 + (s[i++] - '0');
  if (i == 0) return -1;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  }
  while (i < s.size() && s[i] == ' ') ++i;
  if (i >= s.size() || s[i] != '%' || value > 100) return -1;
  return value;
}

bool IsInstantText(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ':' ||
           c == '.' || c == '+' || c == '-';
  });
}

// One of output / error / deleted. `default_type` is used when an entry has no type (only
// allowed for error and deleted files).
Result<void> ReadFiles(dom::object root, std::string_view key, std::string_view default_type,
                       size_t max_files, std::string_view ctx, std::vector<OutputFile>& out) {
  dom::element e;
  if (!Lookup(root, key, e)) return Ok();
  dom::array arr;
  if (e.get_array().get(arr) != SUCCESS) return Protocol(ctx, key, "not an array");
  size_t i = 0;
  for (dom::element item : arr) {
    if (i >= max_files) {
      return Fail(ErrorKind::kTooLarge, ctx, key,
                  "more than " + std::to_string(max_files) + " entries");
    }
    const std::string field = std::string(key) + "[" + std::to_string(i) + "]";
    ++i;
    dom::object entry;
    if (item.get_object().get(entry) != SUCCESS) return Protocol(ctx, field, "not an object");
    OutputFile file;
    std::string_view s;
    auto got = GetString(entry, "type", kMaxCode, ctx, field + ".type", s);
    if (!got) {
      if (got.error().kind != ErrorKind::kTooLarge) return std::move(got).error();
      return Protocol(ctx, field + ".type", "not a FHIR resource type");
    }
    if (*got) {
      if (!IsFhirTypeName(s)) return Protocol(ctx, field + ".type", "not a FHIR resource type");
      if (!IsR4ResourceType(s)) {
        return Protocol(ctx, field + ".type", "not a FHIR R4 resource type");
      }
      file.type = std::string(s);
    } else if (!default_type.empty()) {
      file.type = std::string(default_type);
    } else {
      return Protocol(ctx, field + ".type", "missing");
    }
    got = GetString(entry, "url", kMaxUrl, ctx, field + ".url", s);
    if (!got) return std::move(got).error();
    if (!*got) return Protocol(ctx, field + ".url", "missing");
    if (s.empty()) return Protocol(ctx, field + ".url", "empty");
    if (!IsUrlText(s)) return Protocol(ctx, field + ".url", "not a URL");
    file.url = std::string(s);
    auto count = GetInt(entry, "count", 0, kMaxCount, ctx, field + ".count", file.count);
    if (!count) return std::move(count).error();
    out.push_back(std::move(file));
  }
  return Ok();
}

}  // namespace

Result<StatusInfo> ReadStatus(int status_code, std::string_view x_progress, std::string_view body,
                              size_t max_files) {
  constexpr std::string_view kCtx = "status answer";
  StatusInfo out;
  if (status_code == 202) {
    out.progress_percent = ParseXProgress(x_progress);
    return out;
  }
  if (status_code != 200) {
    return MakeError(ErrorKind::kHttpStatus,
                     std::string(kCtx) + ": HTTP " + std::to_string(status_code), status_code);
  }
  dom::parser parser;
  auto parsed = ParseObject(parser, body, kCtx);
  if (!parsed) return std::move(parsed).error();
  const dom::object root = *parsed;
  dom::element e;

  std::string_view s;
  auto got = GetString(root, "status", kMaxCode, kCtx, "status", s);
  if (!got) return std::move(got).error();
  const bool one_up = *got;
  if (one_up) {
    const auto st = MapStatus(s);
    if (!st) return Protocol(kCtx, "status", "unknown value");
    out.status = *st;
  } else if (Lookup(root, "output", e)) {
    out.status = ExportStatus::kComplete;
  } else {
    return Protocol(kCtx, "", "no output and no status");
  }

  got = GetString(root, "transactionTime", kMaxInstant, kCtx, "transactionTime", s);
  if (!got) return std::move(got).error();
  if (*got) {
    if (!IsInstantText(s)) return Protocol(kCtx, "transactionTime", "not an instant");
    out.transaction_time = std::string(s);
  }
  if (Lookup(root, "requiresAccessToken", e)) {
    bool b = true;
    if (e.get_bool().get(b) == SUCCESS) {
      out.requires_access_token = b;
    } else if (e.get_string().get(s) == SUCCESS && (s == "true" || s == "false")) {
      out.requires_access_token = s == "true";
    } else {
      return Protocol(kCtx, "requiresAccessToken", "not a boolean");
    }
  }

  int64_t failed_batches = 0;
  if (Lookup(root, "batches", e)) {
    dom::object batches;
    if (e.get_object().get(batches) != SUCCESS) return Protocol(kCtx, "batches", "not an object");
    int64_t complete = 0, total = 0;
    auto r = GetInt(batches, "complete", 0, kMaxBatches, kCtx, "batches.complete", complete);
    if (!r) return std::move(r).error();
    r = GetInt(batches, "total", 0, kMaxBatches, kCtx, "batches.total", total);
    if (!r) return std::move(r).error();
    r = GetInt(batches, "failed", 0, kMaxBatches, kCtx, "batches.failed", failed_batches);
    if (!r) return std::move(r).error();
    if (total > 0)
      out.progress_percent = static_cast<int>(std::min<int64_t>(100, complete * 100 / total));
  }

  if (out.status == ExportStatus::kFailed) {
    for (std::string_view key : {"message", "error", "reason", "diagnostics"}) {
      if (Lookup(root, key, e) && e.get_string().get(s) == SUCCESS && !s.empty()) {
        out.failure = CutUtf8(s, kMaxSummary);
        break;
      }
    }
    if (out.failure.empty()) {
      out.failure = failed_batches > 0 ? "export reports failure (" +
                                             std::to_string(failed_batches) + " batches failed)"
                                       : "export reports failure";
    }
    return out;
  }
  // While running, a 1up answer may already list finished batches: the status field wins and
  // the lists are read only once the export is complete.
  if (out.status == ExportStatus::kRunning) return out;

  auto r = ReadFiles(root, "output", "", max_files, kCtx, out.output);
  if (!r) return std::move(r).error();
  r = ReadFiles(root, "error", "OperationOutcome", max_files, kCtx, out.error);
  if (!r) return std::move(r).error();
  r = ReadFiles(root, "deleted", "Bundle", max_files, kCtx, out.deleted);
  if (!r) return std::move(r).error();
  if (Lookup(root, "link", e)) {
    dom::array links;
    if (e.get_array().get(links) != SUCCESS) return Protocol(kCtx, "link", "not an array");
    size_t i = 0;
    for (dom::element item : links) {
      const std::string field = "link[" + std::to_string(i++) + "]";
      dom::object link;
      if (item.get_object().get(link) != SUCCESS) return Protocol(kCtx, field, "not an object");
      got = GetString(link, "relation", kMaxCode, kCtx, field + ".relation", s);
      if (!got) return std::move(got).error();
      if (!*got || s != "next") continue;
      got = GetString(link, "url", kMaxUrl, kCtx, field + ".url", s);
      if (!got) return std::move(got).error();
      if (!*got || s.empty()) return Protocol(kCtx, field + ".url", "missing");
      if (!IsUrlText(s)) return Protocol(kCtx, field + ".url", "not a URL");
      if (!out.next_link.empty()) return Protocol(kCtx, field, "more than one next link");
      out.next_link = std::string(s);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Expires

std::optional<int64_t> ReadExpires(std::string_view header) {
  header = Trim(header);
  // An HTTP-date always has letters (day and month names); bare digits are not one.
  if (header.empty() || std::all_of(header.begin(), header.end(),
                                    [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  // ParseRetryAfter measures from `now`: from 0 it gives the date itself.
  const std::optional<Millis> at = ParseRetryAfter(header, 0);
  if (!at || at->count() <= 0) return std::nullopt;
  return at->count();
}

}  // namespace p2p::fhir
