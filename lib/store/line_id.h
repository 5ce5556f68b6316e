// Finds a resource's top-level "id" in one NDJSON line without a full parse. Used where lines were
// already checked on the way in (NdjsonStore::Compact/Scan, the floor benchmark), so this only
// needs to be right for valid JSON objects; it never allocates.
//
// NOTE: p2p::fhir::LineChecker (lib/fhir/ndjson.h) does the full check on ingest; this scanner is
// the cheap read-back path and stays independent of it.
// Pure; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace p2p::store {

// The raw (still JSON-escaped, normally escape-free) value of the top-level "id" member when it is
// a string; nullopt when `line` is not an object or has no such member. Nested "id" members (e.g.
// inside "identifier" or "meta") are skipped.
std::optional<std::string_view> ExtractTopLevelId(std::string_view line);

}  // namespace p2p::store
