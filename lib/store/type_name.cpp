#include "store/type_name.h"

#include <string>

namespace p2p::store {

namespace {
bool IsAsciiLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
}  // namespace

bool IsResourceTypeName(std::string_view type) {
  if (type.size() < 2 || type.size() > 64) return false;
  if (type[0] < 'A' || type[0] > 'Z') return false;
  for (char c : type) {
    if (!IsAsciiLetter(c)) return false;
  }
  return true;
}

Result<void> ValidateResourceType(std::string_view type) {
  if (IsResourceTypeName(type)) return Ok();
  std::string shown(type.substr(0, 64));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return MakeError(ErrorKind::kInvalid,
                   "invalid resource type \"" + shown + "\": must match [A-Z][A-Za-z]{1,63}");
}

}  // namespace p2p::store
