// Sanitizer canary: deliberate bugs that an instrumented build MUST catch. Built and
// registered with ctest only when P2P_SANITIZE is on (CMakeLists.txt); each test passes only when
// the sanitizer's report is in the output, so a build that silently lost -fsanitize (or gained
// error recovery) fails CI instead of passing every other test uninstrumented.
//
//   sanitizer_canary heap-overflow    reads one byte past a heap block   -> ASan report, abort
//   sanitizer_canary signed-overflow  INT_MAX + 1                        -> UBSan report, abort
//   sanitizer_canary leak             drops the only pointer to a block  -> LeakSanitizer at exit
//
// Each prints "canary survived" when it gets past its bug: with -fno-sanitize-recover=all it must
// never get there, and ctest's FAIL_REGULAR_EXPRESSION fails the test when it does.
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// volatile and opaque to the optimizer, so the bugs are not folded away at any -O level.
volatile int g_sink = 0;

int HeapOverflow() {
  // The size is opaque too: UBSan's object-size check must not see the overflow before ASan.
  volatile size_t size = 16;
  char* block = static_cast<char*>(std::malloc(size));
  std::memset(block, 'x', size);
  g_sink = block[size];  // one past the end
  std::free(block);
  return 0;
}

int SignedOverflow() {
  volatile int big = INT_MAX;
  g_sink = big + 1;
  return 0;
}

int Leak() {
  void* volatile block = std::malloc(64);
  std::memset(block, 'x', 64);
  block = nullptr;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: sanitizer_canary heap-overflow|signed-overflow|leak\n");
    return 2;
  }
  int rc = 2;
  if (std::strcmp(argv[1], "heap-overflow") == 0) {
    rc = HeapOverflow();
  } else if (std::strcmp(argv[1], "signed-overflow") == 0) {
    rc = SignedOverflow();
  } else if (std::strcmp(argv[1], "leak") == 0) {
    rc = Leak();
  } else {
    std::fprintf(stderr, "sanitizer_canary: unknown canary %s\n", argv[1]);
    return 2;
  }
  std::fprintf(stderr, "canary survived %s\n", argv[1]);
  return rc;
}
