#include "fhir/export_status.h"

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

constexpr size_t kMaxInstant = 64;
constexpr int64_t kMaxCount = 1'000'000'000'000;
constexpr int64_t kMaxBatches = 1'000'000'000;

}  // namespace

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
