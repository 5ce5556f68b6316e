#include "fault_spec.h"

#include <cstdio>
#include <cstdlib>

#include "text_util.h"

namespace p2p::sandbox {
namespace {

constexpr std::string_view kEndpointNames[] = {"token", "match", "export", "job",
                                               "file",  "any",   "admin",  "other"};
constexpr std::string_view kKindNames[] = {"500",  "503",     "429",  "404",   "410",    "reset",
                                           "cut",  "badjson", "fail", "delay", "expire", "block"};

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool Applies(const FaultRule& rule, Endpoint endpoint) {
  if (rule.endpoint != Endpoint::kAny && rule.endpoint != endpoint) return false;
  if (rule.kind == FaultKind::kExpire) return endpoint == Endpoint::kToken;
  if (rule.kind == FaultKind::kFail) return endpoint == Endpoint::kExport || endpoint == Endpoint::kJob;
  return true;
}

std::string FormatDurationText(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::optional<RetryAfterForm> ParseRetryAfterForm(std::string_view text) {
  for (RetryAfterForm form : {RetryAfterForm::kSeconds, RetryAfterForm::kDate,
                              RetryAfterForm::kEpoch, RetryAfterForm::kEpochMs}) {
    if (text == RetryAfterFormName(form)) return form;
  }
  return std::nullopt;
}

// "N/WINDOW" and "DURATION" of a block rule.
bool ParseBlock(std::string_view limit_window, std::string_view duration, FaultRule* rule) {
  const size_t slash = limit_window.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 7) return false;
  uint32_t limit = 0;
  for (char c : limit_window.substr(0, slash)) {
    if (c < '0' || c > '9') return false;
    limit = limit * 10 + static_cast<uint32_t>(c - '0');
  }
  auto window = ParseDuration(limit_window.substr(slash + 1));
  auto length = ParseDuration(duration);
  if (limit < 1 || !window || window->count() <= 0 || !length || length->count() <= 0) {
    return false;
  }
  rule->block_limit = limit;
  rule->block_window = *window;
  rule->duration = *length;
  return true;
}

std::optional<FaultRule> ParseRule(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& what) {
    *error = what;
    return std::nullopt;
  };
  FaultRule rule;
  // Pull out "@TRIGGER" (up to the next ':').
  std::string body(text);
  size_t at = body.find('@');
  const bool has_trigger = at != std::string::npos;
  if (has_trigger) {
    size_t end = body.find(':', at);
    std::string trigger = body.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
    body.erase(at, end == std::string::npos ? std::string::npos : end - at);
    if (trigger.rfind("every", 0) == 0) {
      std::string n = trigger.substr(5);
      char* stop = nullptr;
      long value = n.empty() ? 0 : std::strtol(n.c_str(), &stop, 10);
      if (n.empty() || *stop != '\0' || value < 1 || value > 1'000'000) {
        return fail("bad trigger \"" + trigger + "\" (expected everyN with N >= 1)");
      }
      rule.every = static_cast<uint32_t>(value);
    } else {
      char* stop = nullptr;
      double value = trigger.empty() ? -1 : std::strtod(trigger.c_str(), &stop);
      if (trigger.empty() || *stop != '\0' || !(value >= 0.0 && value <= 1.0)) {
        return fail("bad trigger \"" + trigger + "\" (expected a rate in 0..1 or everyN)");
      }
      rule.rate = value;
    }
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t colon = body.find(':', start);
    parts.push_back(body.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() < 2) return fail("expected ENDPOINT:KIND");
  bool endpoint_ok = false;
  for (size_t i = 0; i <= static_cast<size_t>(Endpoint::kAny); ++i) {
    if (parts[0] == kEndpointNames[i]) {
      rule.endpoint = static_cast<Endpoint>(i);
      endpoint_ok = true;
    }
  }
  if (!endpoint_ok) {
    return fail("unknown endpoint \"" + parts[0] + "\" (expected token|match|export|job|file|any)");
  }
  std::string kind = parts[1];
  std::string value;
  if (size_t eq = kind.find('='); eq != std::string::npos) {
    value = kind.substr(eq + 1);
    kind.resize(eq);
  }
  bool kind_ok = false;
  for (size_t i = 0; i < kFaultKindCount; ++i) {
    if (kind == kKindNames[i]) {
      rule.kind = static_cast<FaultKind>(i);
      kind_ok = true;
    }
  }
  if (!kind_ok) {
    return fail("unknown kind \"" + kind +
                "\" (expected 500|503|429|404|410|reset|cut|badjson|fail|delay=DUR|expire=DUR"
                "|block=N/WINDOW:DUR)");
  }
  size_t first_option = 2;
  if (rule.kind == FaultKind::kBlock) {
    if (has_trigger) return fail("block takes no trigger");
    if (!ParseBlock(value, parts.size() > 2 ? parts[2] : "", &rule)) {
      return fail("block needs N/WINDOW:DURATION with N >= 1 and durations above 0, e.g. "
                  "block=20/10s:3s");
    }
    first_option = 3;
    value.clear();
  }
  bool timed = rule.kind == FaultKind::kDelay || rule.kind == FaultKind::kExpire;
  if (timed) {
    auto d = ParseDuration(value);
    if (!d) return fail(kind + " needs a duration, e.g. " + kind + "=200ms");
    rule.duration = *d;
  } else if (!value.empty()) {
    return fail(kind + " takes no value");
  }
  if (rule.kind == FaultKind::kExpire && rule.endpoint != Endpoint::kToken &&
      rule.endpoint != Endpoint::kAny) {
    return fail("expire applies to token only");
  }
  if (rule.kind == FaultKind::kFail && rule.endpoint != Endpoint::kExport &&
      rule.endpoint != Endpoint::kJob && rule.endpoint != Endpoint::kAny) {
    return fail("fail applies to export or job only");
  }
  for (size_t i = first_option; i < parts.size(); ++i) {
    const std::string& option = parts[i];
    if (option.rfind("retry-after=", 0) != 0) return fail("unknown option \"" + option + "\"");
    const bool block = rule.kind == FaultKind::kBlock;
    if (rule.kind != FaultKind::k429 && rule.kind != FaultKind::k503 && !block) {
      return fail("retry-after applies to 429, 503 and block only");
    }
    std::string v = option.substr(12);
    rule.has_retry_after = true;
    if (auto form = ParseRetryAfterForm(v)) {
      rule.retry_after_form = *form;
    } else if (block) {
      return fail("block's retry-after is seconds, date, epoch or epoch-ms");
    } else {
      char* stop = nullptr;
      long secs = v.empty() ? -1 : std::strtol(v.c_str(), &stop, 10);
      if (v.empty() || *stop != '\0' || secs < 0 || secs > 86400) {
        return fail("retry-after needs seconds (0..86400), date, epoch or epoch-ms");
      }
      rule.retry_after_seconds = static_cast<int>(secs);
    }
  }
  if (rule.kind == FaultKind::k429 || rule.kind == FaultKind::kBlock) rule.has_retry_after = true;
  return rule;
}

void AppendRetryAfter(const FaultRule& rule, std::string& out) {
  if (rule.kind == FaultKind::kBlock) {
    out += ':' + FormatDurationText(rule.duration);
    if (rule.retry_after_form != RetryAfterForm::kSeconds) {
      out += ":retry-after=";
      out += RetryAfterFormName(rule.retry_after_form);
    }
    return;
  }
  const bool seconds_form = rule.retry_after_form == RetryAfterForm::kSeconds;
  if (!rule.has_retry_after ||
      (rule.kind == FaultKind::k429 && seconds_form && rule.retry_after_seconds == 1)) {
    return;  // 429's default
  }
  if (seconds_form || rule.retry_after_seconds != 1) {
    out += ":retry-after=" + std::to_string(rule.retry_after_seconds);
  }
  if (!seconds_form) {
    out += ":retry-after=";
    out += RetryAfterFormName(rule.retry_after_form);
  }
}

}  // namespace

std::string_view EndpointName(Endpoint endpoint) {
  return kEndpointNames[static_cast<size_t>(endpoint)];
}

std::string_view FaultKindName(FaultKind kind) { return kKindNames[static_cast<size_t>(kind)]; }

std::optional<FaultSpec> ParseFaultSpec(std::string_view text, std::string* error) {
  FaultSpec spec;
  std::string compact;
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') compact.push_back(c);
  }
  if (compact.empty() || compact == "none") return spec;
  size_t start = 0;
  int index = 0;
  while (start <= compact.size()) {
    size_t comma = compact.find(',', start);
    std::string rule_text =
        compact.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    ++index;
    std::string why;
    auto rule = rule_text.empty() ? std::nullopt : ParseRule(rule_text, &why);
    if (!rule) {
      if (rule_text.empty()) why = "empty rule";
      *error = "fault rule " + std::to_string(index) + " \"" + rule_text + "\": " + why;
      return std::nullopt;
    }
    spec.rules.push_back(*rule);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return spec;
}

std::string FormatFaultSpec(const FaultSpec& spec) {
  std::string out;
  for (const FaultRule& rule : spec.rules) {
    if (!out.empty()) out += ',';
    out += EndpointName(rule.endpoint);
    out += ':';
    out += FaultKindName(rule.kind);
    if (rule.kind == FaultKind::kDelay || rule.kind == FaultKind::kExpire) {
      out += '=' + FormatDurationText(rule.duration);
    } else if (rule.kind == FaultKind::kBlock) {
      out += '=' + std::to_string(rule.block_limit) + '/' + FormatDurationText(rule.block_window);
    }
    if (rule.every > 0) {
      out += "@every" + std::to_string(rule.every);
    } else if (rule.rate < 1.0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "@%g", rule.rate);
      out += buf;
    }
    AppendRetryAfter(rule, out);
  }
  return out.empty() ? "none" : out;
}

FaultInjector::FaultInjector(uint64_t seed, FaultSpec spec) : seed_(seed) {
  Install(std::move(spec));
}

void FaultInjector::Install(FaultSpec spec) {
  spec_ = std::move(spec);
  counts_.assign(spec_.rules.size(), 0);
  blocks_.clear();
  for (const FaultRule& rule : spec_.rules) {
    blocks_.emplace_back();
    if (rule.kind == FaultKind::kBlock) {
      blocks_.back().emplace(BlockParams{rule.block_limit, rule.block_window, rule.duration});
    }
  }
}

FaultDecision FaultInjector::Decide(Endpoint endpoint) {
  return Decide(endpoint, "", std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
}

FaultDecision FaultInjector::Decide(Endpoint endpoint, std::string_view client, int64_t now_ms) {
  std::lock_guard lock(mu_);
  FaultDecision decision;
  for (size_t i = 0; i < spec_.rules.size(); ++i) {
    const FaultRule& rule = spec_.rules[i];
    if (!Applies(rule, endpoint)) continue;
    if (blocks_[i]) {
      const ClientBlocks::Verdict verdict = blocks_[i]->Admit(client, now_ms);
      if (verdict.started) ++blocks_started_;
      if (verdict.refused && !decision.block) {
        decision.block = BlockRefusal{
            rule, verdict.until_ms,
            FormatRetryAfter(rule.retry_after_form, now_ms, verdict.until_ms)};
      }
      continue;
    }
    uint64_t n = ++counts_[i];
    bool fires;
    if (rule.every > 0) {
      fires = n % rule.every == 0;
    } else {
      uint64_t h = SplitMix(seed_ ^ SplitMix((i + 1) * 0x100000001b3ULL) ^ SplitMix(n));
      fires = static_cast<double>(h >> 11) * 0x1.0p-53 < rule.rate;
    }
    if (!fires) continue;
    if (rule.kind == FaultKind::kDelay) {
      decision.delay += rule.duration;
    } else if (rule.kind == FaultKind::kExpire) {
      if (!decision.token_lifetime) decision.token_lifetime = rule.duration;
    } else if (!decision.response) {
      decision.response = rule;
    }
  }
  return decision;
}

void FaultInjector::Record(Endpoint endpoint, FaultKind kind) {
  std::lock_guard lock(mu_);
  ++injected_[static_cast<size_t>(endpoint)][static_cast<size_t>(kind)];
}

void FaultInjector::Replace(FaultSpec spec) {
  std::lock_guard lock(mu_);
  Install(std::move(spec));
}

FaultSpec FaultInjector::Spec() const {
  std::lock_guard lock(mu_);
  return spec_;
}

std::array<std::array<uint64_t, kFaultKindCount>, kEndpointCount> FaultInjector::Injected() const {
  std::lock_guard lock(mu_);
  return injected_;
}

uint64_t FaultInjector::BlocksStarted() const {
  std::lock_guard lock(mu_);
  return blocks_started_;
}

}  // namespace p2p::sandbox
