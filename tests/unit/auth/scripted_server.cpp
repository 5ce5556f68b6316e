// test_auth reuses the HTTP tests' scripted server (tests/unit/http/scripted_server.h); the build
// globs one directory per test binary, so its implementation is compiled here too.
#include "../http/scripted_server.cpp"
