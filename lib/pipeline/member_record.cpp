#include "pipeline/member_record.h"

#include <simdjson.h>

#include <utility>

namespace p2p::pipeline {

namespace {

struct Field {
  std::string_view name;
  std::string MemberRow::*member;
};

constexpr Field kFields[] = {
    {"member_key", &MemberRow::member_key},
    {"prior_payer", &MemberRow::prior_payer},
    {"given", &MemberRow::given},
    {"family", &MemberRow::family},
    {"birth_date", &MemberRow::birth_date},
    {"gender", &MemberRow::gender},
    {"prior_coverage_id", &MemberRow::prior_coverage_id},
    {"new_coverage_id", &MemberRow::new_coverage_id},
    {"coverage_start", &MemberRow::coverage_start},
    {"opt_in_date", &MemberRow::opt_in_date},
    {"consent_start", &MemberRow::consent_start},
    {"consent_end", &MemberRow::consent_end},
    {"consent_policy", &MemberRow::consent_policy},
};

}  // namespace

std::string EncodeMemberRow(const MemberRow& row) {
  std::string out = "{";
  bool first = true;
  for (const Field& f : kFields) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, f.name);
    out += ':';
    AppendJsonString(out, row.*f.member);
  }
  out += '}';
  return out;
}

Result<MemberRow> DecodeMemberRow(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) {
    return MakeError(ErrorKind::kParse, "stored member row is not JSON");
  }
  MemberRow row;
  for (const Field& f : kFields) {
    std::string_view v;
    if (doc[f.name].get_string().get(v) == simdjson::SUCCESS) row.*f.member = std::string(v);
  }
  return row;
}

ConsentParties ConsentPartiesOf(const PayerOptions& payer, const ConsentParty& self) {
  return ConsentParties{{payer.name, payer.identifier.system, payer.identifier.value}, self};
}

std::string RequestInvalidDetail(std::string_view step, int http_status,
                                 std::string_view server_text, bool parties_complete) {
  std::string out(step);
  out += ": the payer refused our request as invalid (HTTP " + std::to_string(http_status) +
         ", HRex validation): ";
  out += server_text.empty() ? std::string_view("(no diagnostics)") : server_text;
  out += parties_complete
             ? "; the Consent already names both payers (self.identifier, "
               "payers[].identifier): check the request against the payer's HRex version"
             : "; set self.identifier and payers[].identifier if it concerns the Consent";
  return out;
}

}  // namespace p2p::pipeline
