// The fast path of LineChecker: decide a valid NDJSON line from simdjson's stage-1 index alone.
//
// simdjson's DOM parser runs two stages: stage 1 (SIMD) validates UTF-8, finds every string and
// unescaped control character, and indexes the structural characters ({}[]:," and the first byte
// of each number or literal); stage 2 walks that index, checks the grammar and builds a tape,
// copying and unescaping every string and converting every number on the way. The store needs
// none of that tape: only "resourceType" and "id". StructuralScan runs stage 1, then walks the
// index itself checking the grammar and the scalars, without writing anything, which takes about
// half the time of a DOM parse on FHIR lines (see README, Performance).
//
// It only ever says yes: Scan() returns true when the line is a JSON object the DOM parser would
// accept, and then gives the top-level fields as the DOM would. Anything else (invalid JSON, and
// the valid forms it leaves to simdjson: \u escapes, escapes in a top-level key or in the type or
// id, numbers with an exponent over 2 digits or more than 18 integer digits, nesting deeper than
// 63) returns false, and LineChecker asks the DOM parser, which gives the verdict and the problem.
// So LineChecker's answers are the DOM parser's by construction; the differential fuzz target
// (tests/fuzz/line_scan_fuzz.cpp) checks that a yes here is never a no there.
//
// It uses simdjson's stage-1 entry point (simdjson::internal::dom_parser_implementation), which
// is public in the header but documented as internal: pinned to Debian 12's simdjson 3.0; the
// unit tests and the fuzz target would show a change of behaviour in another version.
//
// Threading: one instance per thread. No allocation once the longest line has been seen.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace p2p::fhir {

// What a line's top-level object says about "resourceType" and "id": how many times each key
// occurs, and whether the last occurrence is a string (then its value, unescaped).
struct TopLevelFields {
  int type_seen = 0;
  int id_seen = 0;
  bool type_is_string = false;
  bool id_is_string = false;
  std::string_view type;
  std::string_view id;
};

class StructuralScan {
 public:
  StructuralScan();
  ~StructuralScan();
  StructuralScan(const StructuralScan&) = delete;
  StructuralScan& operator=(const StructuralScan&) = delete;

  // `padded` must be followed by kLinePadding (64) readable bytes. True: `padded[0, size)` is a
  // JSON object that simdjson's DOM parser accepts, and `out` holds its top-level fields (the
  // views point into `padded`). False: not decided here; `out` is unspecified.
  bool Scan(const char* padded, size_t size, TopLevelFields& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace p2p::fhir
