// One request through SandboxApp::Handle, for the sandbox's app-level tests.
#pragma once

#include <string_view>

#include "sandbox_app.h"

namespace p2p::sandbox::testing {

struct CallArgs {
  std::string_view body;
  std::string_view authorization;
  std::string_view content_type;
  std::string_view peer = "127.0.0.1";
  bool from_loopback = true;
};

inline AppReply CallApp(SandboxApp& app, std::string_view method, std::string_view target,
                        const CallArgs& args = {}) {
  AppRequest r;
  r.method = method;
  r.target = target;
  r.body = args.body;
  r.authorization = args.authorization;
  r.content_type = args.content_type;
  r.peer = args.peer;
  r.from_loopback = args.from_loopback;
  return app.Handle(r);
}

}  // namespace p2p::sandbox::testing
