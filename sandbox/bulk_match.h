// p2p-sandbox's Da Vinci PDex $bulk-member-match (PDex STU 2.1) and its multi-member Groups.
//
//   POST /v1/{tenant}/Group/$bulk-member-match (also under /bulk-data/r4/)
//     body: Parameters with 1..* MemberBundle parameters, each with parts MemberPatient,
//     CoverageToMatch, Consent (exactly one each) and CoverageToLink (0..1).
//     400 invalid / required: malformed JSON, not a Parameters, no MemberBundle, a MemberBundle
//       whose parts break the $member-match rules (diagnostics "MemberBundle[i]: <reason>").
//     202 + Content-Location <public-base>/v1/{tenant}/bulk-match/job/{id}: accepted (async).
//   GET  /v1/{tenant}/bulk-match/job/{id}
//     202 + Retry-After + X-Progress until --job-delay has passed, then 200 with the answer;
//     404 unknown id.
// Each bundle is matched with exactly the $member-match rules (member_match.h): 200 -> matched,
// 422 business-rule (consent) -> consent-constrained, 422 processing -> non-matched. With
// --hrex 1.1, a bundle whose Consent does not conform to hrex-consent (hrex_consent.h) refuses
// the whole kick-off: 422 with one issue per broken rule, expressions
// "Parameters.parameter[i].part[j].resource...".
// The answer is a Parameters with MatchedMembers (a Group of the matched members, id
// "bmm-<n>", exportable with Group/{id}/$export), NonMatchedMembers and
// ConsentConstrainedMembers. Each Group contains the submitted MemberPatient resources
// (contained, ids kept when unique in the request, else "member-<i>"); each Group.member's
// entity has the extension .../base-ext-match-parameters with valueReference "#<contained id>";
// a matched member's entity reference is "Patient/<prior payer Patient id>", the others'
// "#<contained id>". That is our reading of the profile (PDex Member Match Group, PDex Member No
// Match Group); see sandbox/README.md.
//
// Groups: the MatchedMembers Groups above, plus named Groups given at start-up
// (--group NAME:MEMBER_KEY,MEMBER_KEY...). An export of such a Group carries every member's
// resources; its files are built in memory (GroupFileBody), so keep such Groups small.
//
// Threading: GroupTable and BulkMatchJobs are thread-safe (one mutex each); the rest is pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hrex_consent.h"
#include "synth.h"

namespace p2p::sandbox {

// Which bulk-match path a request is (segments of the decoded path, without the leading '/').
enum class BulkRoute { kNone, kKickoff, kStatus };
BulkRoute RouteBulkMatch(const std::vector<std::string_view>& segments);

class GroupTable {
 public:
  explicit GroupTable(size_t capacity) : capacity_(capacity) {}
  // Stores a new Group "bmm-<n>" of `members`; returns its id. Beyond capacity the oldest goes.
  std::string Add(std::vector<uint64_t> members);
  // A named Group (never evicted).
  void AddNamed(const std::string& id, std::vector<uint64_t> members);
  std::optional<std::vector<uint64_t>> Find(std::string_view id) const;

 private:
  mutable std::mutex mu_;
  size_t capacity_;
  uint64_t next_ = 1;
  std::map<std::string, std::vector<uint64_t>, std::less<>> groups_;
  std::deque<std::string> order_;
};

// The member index behind a roster member_key ("M000000123"), nullopt when unknown.
std::optional<uint64_t> MemberIndexOfKey(const Synth& synth, std::string_view member_key);

struct BulkVerdict {
  enum Kind { kMatched, kNoMatch, kConsentConstrained } kind = kNoMatch;
  std::optional<uint64_t> member;  // kMatched
  std::string contained_id;        // id of the submitted MemberPatient in the answer's Groups
  std::string patient_json;        // the submitted MemberPatient, with that id
};

struct BulkMatchDecision {
  int status = 200;                   // 400 malformed; 422 a Consent breaks hrex-consent
  std::string error_body;             // 400 / 422: OperationOutcome
  std::vector<BulkVerdict> verdicts;  // 200: one per MemberBundle, in order
};

// Validates the request and matches every bundle (`today` "YYYY-MM-DD"). Pure.
BulkMatchDecision DecideBulkMatch(std::string_view body, const Synth& synth,
                                  std::string_view tenant, std::string_view today,
                                  HrexMode mode = HrexMode::kLenient);

// The 200 answer for `decision`; `matched_group_id` names the MatchedMembers Group. Pure.
std::string RenderBulkMatchAnswer(const BulkMatchDecision& decision, const Synth& synth,
                                  std::string_view matched_group_id);

struct BulkMatchJob {
  std::string id;
  std::string tenant;
  std::string answer;  // 200 body
  std::chrono::steady_clock::time_point started;
};

class BulkMatchJobs {
 public:
  explicit BulkMatchJobs(size_t capacity) : capacity_(capacity) {}
  std::string Create(std::string tenant, std::string answer,
                     std::chrono::steady_clock::time_point started);
  std::optional<BulkMatchJob> Find(std::string_view id) const;

 private:
  mutable std::mutex mu_;
  size_t capacity_;
  uint64_t next_ = 1;
  std::map<std::string, BulkMatchJob, std::less<>> jobs_;
  std::deque<std::string> order_;
};

// Every line of `type` for `members` (honouring `since`), each followed by '\n'.
std::string GroupFileBody(const Synth& synth, const std::vector<uint64_t>& members,
                          std::string_view type, std::optional<int64_t> since);

}  // namespace p2p::sandbox
