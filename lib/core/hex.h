// One hexadecimal digit's value (0-15), or -1 when `c` is not one ([0-9A-Fa-f]).
#pragma once

namespace p2p {

constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace p2p
