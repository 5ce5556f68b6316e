// Errors as values. A Result<T> holds either a T or an Error (a closed kind plus a message
// with context, e.g. "config.yaml:12: payers[0].limits.concurrency: must be 1..256").
// Exceptions stop at adapter edges; code above them returns Result and moves errors up
// by early return.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace p2p {

// Closed set of error kinds. Values are stored in SQLite: never renumber.
enum class ErrorKind : int {
  kInvalid = 1,        // bad input from config or a member source
  kParse = 2,          // bytes that do not decode (JSON, CSV, YAML)
  kIo = 3,             // local file / database failure
  kNetwork = 4,        // connect, read, write, TLS failure (retryable)
  kTimeout = 5,        // a phase timed out (retryable)
  kHttpStatus = 6,     // the server answered with an unexpected status
  kProtocol = 7,       // the server's answer has the wrong shape
  kAuth = 8,           // token endpoint refused us
  kUntrustedHost = 9,  // a URL points at a host that may not receive the token
  kTooLarge = 10,      // a body, line or string over its limit
  kTruncated = 11,     // a body cut short (retryable)
  kCancelled = 12,     // shutdown
  kDiskFull = 13,      // ENOSPC / SQLITE_FULL
  kBusy = 14,          // SQLITE_BUSY from an outside reader
  kInternal = 15,
  kThrottled = 16,     // the payer throttles (429, or 503 with Retry-After): wait, count nothing
  kUnavailable = 17,   // the store's database server cannot be reached (retryable: writes pause)
  kLeaseLost = 18,     // another instance took over the job (this one's lease lapsed): stop it
};

std::string_view ErrorKindName(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
  int http_status = 0;  // set for kHttpStatus (and kAuth when it came from an HTTP answer)

  // Prefix the message with context: Error{..., "timed out"}.Context("GET /x") -> "GET /x: timed out".
  Error&& Context(std::string_view ctx) && {
    message.insert(0, std::string(ctx) + ": ");
    return std::move(*this);
  }
};

inline Error MakeError(ErrorKind kind, std::string message, int http_status = 0) {
  return Error{kind, std::move(message), http_status};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}        // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { assert(!ok()); return std::get<1>(v_); }
  Error&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { assert(!ok_); return err_; }
  Error&& error() && { assert(!ok_); return std::move(err_); }

 private:
  Error err_;
  bool ok_ = true;
};

inline Result<void> Ok() { return Result<void>(); }

}  // namespace p2p
