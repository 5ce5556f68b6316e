// ThreadSanitizer canary: a deliberate data race that a P2P_TSAN build MUST report.
// Built and registered with ctest only when P2P_TSAN is on (CMakeLists.txt); the test passes only
// when TSan's report is in the output, so `scripts/sanitize --thread` fails if the build silently
// lost -fsanitize=thread instead of passing the store tests uninstrumented.
//
//   tsan_canary    two threads increment one plain int without a lock -> "data race", exit 66
#include <cstdio>
#include <thread>

namespace {

int g_counter = 0;  // deliberately unsynchronized

void Bump() {
  for (int i = 0; i < 1000; ++i) {
    int v = g_counter;  // racy read ...
    g_counter = v + 1;  // ... and racy write
  }
}

}  // namespace

int main() {
  std::thread a(Bump);
  std::thread b(Bump);
  a.join();
  b.join();
  std::printf("canary finished: %d\n", g_counter);
  return 0;
}
