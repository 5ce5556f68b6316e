#include "core/result.h"

namespace p2p {

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalid: return "invalid";
    case ErrorKind::kParse: return "parse";
    case ErrorKind::kIo: return "io";
    case ErrorKind::kNetwork: return "network";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kHttpStatus: return "http_status";
    case ErrorKind::kProtocol: return "protocol";
    case ErrorKind::kAuth: return "auth";
    case ErrorKind::kUntrustedHost: return "untrusted_host";
    case ErrorKind::kTooLarge: return "too_large";
    case ErrorKind::kTruncated: return "truncated";
    case ErrorKind::kCancelled: return "cancelled";
    case ErrorKind::kDiskFull: return "disk_full";
    case ErrorKind::kBusy: return "busy";
    case ErrorKind::kInternal: return "internal";
    case ErrorKind::kThrottled: return "throttled";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kLeaseLost: return "lease_lost";
  }
  return "unknown";
}

}  // namespace p2p
