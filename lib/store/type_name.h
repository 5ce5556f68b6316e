// Resource type names as they reach the stores: a type becomes a table name (sqlite) or a file
// name (ndjson), so it is checked against [A-Z][A-Za-z]{1,63} before it goes near SQL or a path.
// Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "core/result.h"

namespace p2p::store {

// True if `type` matches [A-Z][A-Za-z]{1,63} ("Patient", "ExplanationOfBenefit").
bool IsResourceTypeName(std::string_view type);

// Ok, or kInvalid "invalid resource type \"<type>\": must match [A-Z][A-Za-z]{1,63}" (the type is
// shown with non-printable bytes as '?' and cut to 64 bytes).
Result<void> ValidateResourceType(std::string_view type);

}  // namespace p2p::store
