// `p2p-sandbox roster`: writes the member source file the daemon reads and the outcomes the
// daemon must reach, for exactly the members `p2p-sandbox --members N --seed S` serves.
//   DIR/members.csv   header + one row per member, columns in core order:
//     member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,new_coverage_id,
//     coverage_start,opt_in_date,consent_start,consent_end,consent_policy
//   DIR/expected.json {"members":[{"member_key":"…","outcome":"complete"|"no_match"|
//                     "consent_refused","resources":{"Patient":["id",…],…}},…]}
//     (resources only for outcome "complete"; streamed, so 1,000,000 members are fine)
#pragma once

#include <filesystem>
#include <string>

#include "synth.h"

namespace p2p::sandbox {

// Returns 0 on success; prints a one-line error to stderr and returns 1 otherwise.
int WriteRoster(const SynthOptions& options, const std::string& payer_id,
                const std::filesystem::path& out_dir);

}  // namespace p2p::sandbox
