// "<kind>: <message>" of a failed Result, "ok" of a good one: tests compare error messages
// exactly (kind and text) in one EXPECT_EQ.
#pragma once

#include <string>

#include "core/result.h"

namespace p2p::testing {

template <typename T>
std::string ErrorText(const Result<T>& r) {
  if (r.ok()) return "ok";
  return std::string(ErrorKindName(r.error().kind)) + ": " + r.error().message;
}

}  // namespace p2p::testing
