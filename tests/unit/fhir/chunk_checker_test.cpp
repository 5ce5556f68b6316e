// ChunkChecker must deliver exactly what NdjsonSplitter + LineChecker give inline (numbers,
// problems, text, ids, order), whether it checks inline, on its worker thread, or switches from
// one to the other mid-body; and stop on the first error of the caller's function.
#include "fhir/chunk_checker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fhir/ndjson.h"

namespace p2p::fhir {
namespace {

struct Got {
  uint64_t number;
  LineProblem problem;
  std::string text, id;
  bool operator==(const Got&) const = default;
};

std::ostream& operator<<(std::ostream& o, const Got& g) {
  return o << g.number << ":" << LineProblemName(g.problem) << ":" << g.id << ":" << g.text;
}

std::string Body() {
  std::string t;
  for (int i = 0; i < 300; ++i) {
    if (i % 37 == 5) t += "   \r\n";  // blank
    if (i % 53 == 7) t += R"({"resourceType":"Patient","id":"bad id"})" "\n";
    if (i % 61 == 11) t += R"({"resourceType":"Observation","id":"o1"})" "\r\n";
    if (i % 67 == 13) t += "not json\n";
    if (i % 71 == 17) t += R"({"resourceType":"Patient","id":"long","x":")" + std::string(900, 'y') + "\"}\n";
    t += R"({"resourceType":"Patient","id":"p)" + std::to_string(i) + R"(","name":[{"text":")" +
         std::string(static_cast<size_t>(i * 13 % 200), 'n') + "\"}]}\n";
  }
  t += R"({"resourceType":"Patient","id":"last"})";  // no final newline
  return t;
}

// The reference: the inline splitter + checker, copying each line.
std::vector<Got> Reference(const std::string& body, size_t max_line) {
  std::vector<Got> out;
  LineChecker checker;
  NdjsonSplitter s(
      max_line,
      [&](std::string_view line, uint64_t n) -> Result<void> {
        const CheckedLine c = checker.Check(line, "Patient");
        out.push_back({n, c.problem, std::string(line), std::string(c.id)});
        return Ok();
      },
      [&](uint64_t n) { out.push_back({n, LineProblem::kTooLong, "", ""}); });
  EXPECT_TRUE(s.Feed(body).ok());
  EXPECT_TRUE(s.Finish().ok());
  return out;
}

// Feeds `body` in `chunk`-byte pieces, then finishes. A piece is its own heap block followed by
// kLinePadding bytes of garbage (as http::BodySink chunks are followed by readable slack), or,
// with `in_place`, is read into FillBuffer() whenever it offers one (as the HTTP client reads a
// body into StoreSink::Buffer()). Returns whether FillBuffer() was used.
bool FeedAll(ChunkChecker& cc, const std::string& body, size_t chunk, bool in_place,
             const ChunkChecker::LineFn& fn) {
  bool used_buffer = false;
  for (size_t i = 0; i < body.size(); i += chunk) {
    size_t n = std::min(chunk, body.size() - i);
    const std::span<char> to = in_place ? cc.FillBuffer() : std::span<char>{};
    if (!to.empty()) {
      EXPECT_GE(to.size(), ChunkChecker::kMaxChunk);
      n = std::min(n, to.size());
      std::memcpy(to.data(), body.data() + i, n);
      std::memset(to.data() + n, '{', std::min(kLinePadding, to.size() - n));
      EXPECT_TRUE(cc.Feed(std::string_view(to.data(), n), fn).ok());
      used_buffer = true;
      continue;
    }
    std::vector<char> block(n + kLinePadding, '{');
    std::memcpy(block.data(), body.data() + i, n);
    EXPECT_TRUE(cc.Feed(std::string_view(block.data(), n), fn).ok());
    // The block is gone after Feed: a worker reading it later would be a use-after-free (ASan).
  }
  EXPECT_TRUE(cc.Finish(fn).ok());
  return used_buffer;
}

// With `in_place`, a chunk goes into FillBuffer() whenever it offers one (as the HTTP client
// reads a body into StoreSink::Buffer()), and `*in_place` says whether that happened.
std::vector<Got> ThroughChunkChecker(const std::string& body, size_t max_line, size_t chunk,
                                     size_t inline_bytes, size_t slot_bytes, bool* threaded,
                                     bool* in_place = nullptr) {
  std::vector<Got> out;
  ChunkChecker cc(max_line, "Patient", inline_bytes, slot_bytes);
  const ChunkChecker::LineFn fn = [&](const ChunkChecker::Line& l) -> Result<void> {
    out.push_back({l.number, l.problem, std::string(l.text), std::string(l.id)});
    return Ok();
  };
  const bool used_buffer = FeedAll(cc, body, chunk, in_place != nullptr, fn);
  *threaded = cc.threaded();
  if (in_place != nullptr) *in_place = used_buffer;
  return out;
}

// The zero-copy path: chunks received straight into the slot being filled (FillBuffer) give
// the same lines, in every mix with copied chunks (before the worker starts, the client's own
// buffer; after, whatever the chunk size).
TEST(ChunkChecker, ChunksReceivedIntoFillBufferGiveWhatTheInlineCheckGives) {
  const std::string body = Body();
  const std::vector<Got> want = Reference(body, 512);
  for (size_t chunk : {5u, 100u, 4096u, 65536u}) {
    for (size_t inline_bytes : {size_t{0}, size_t{5000}, body.size()}) {
      for (size_t slot : {size_t{1}, size_t{3000}, ChunkChecker::kSlotBytes}) {
        SCOPED_TRACE("chunk " + std::to_string(chunk) + " inline " +
                     std::to_string(inline_bytes) + " slot " + std::to_string(slot));
        bool threaded = false, in_place = false;
        const std::vector<Got> got =
            ThroughChunkChecker(body, 512, chunk, inline_bytes, slot, &threaded, &in_place);
        EXPECT_EQ(got, want);
        EXPECT_EQ(threaded, inline_bytes < body.size());
        // Offered as soon as the worker runs, so to every chunk after the first threaded one.
        EXPECT_EQ(in_place, threaded && chunk < body.size() && inline_bytes + chunk < body.size());
      }
    }
  }
}

// TakeBlocks: runs of good lines come as views of a slot, lent until released. The fake writer
// keeps a copy of each block and checks, when it is released (or at the end), that the slot
// still holds the same bytes: a slot refilled before its release would be caught here.
struct Lent {
  std::string_view view;
  std::string copy;
  uint64_t token;
  bool released = false;
};

std::vector<Got> ThroughBlocks(const std::string& body, size_t chunk, size_t inline_bytes,
                               size_t slot_bytes, int* blocks, bool in_place) {
  std::vector<Got> out;
  std::vector<Lent> lent;
  uint64_t next_token = 1;
  {
    ChunkChecker cc(512, "Patient", inline_bytes, slot_bytes);
    cc.TakeBlocks(
        [&](std::string_view lines, uint64_t first, uint64_t count) -> Result<uint64_t> {
          EXPECT_FALSE(lines.empty());
          EXPECT_EQ(lines.back(), '\n');
          uint64_t n = first;
          for (size_t at = 0; at < lines.size();) {
            const size_t end = lines.find('\n', at);
            const std::string text(lines.substr(at, end - at));
            LineChecker checker;  // the ids the reference gives
            out.push_back({n++, LineProblem::kNone, text, std::string(checker.Check(text, "Patient").id)});
            at = end + 1;
          }
          EXPECT_EQ(n - first, count);
          lent.push_back({lines, std::string(lines), next_token});
          return next_token++;
        },
        [&](uint64_t token) {
          for (Lent& l : lent) {
            if (l.token > token || l.released) continue;
            EXPECT_TRUE(l.view == l.copy) << "block " << l.token << " changed before its release";
            l.released = true;
          }
        });
    const ChunkChecker::LineFn fn = [&](const ChunkChecker::Line& l) -> Result<void> {
      out.push_back({l.number, l.problem, std::string(l.text), std::string(l.id)});
      return Ok();
    };
    FeedAll(cc, body, chunk, in_place, fn);
    for (const Lent& l : lent) {
      if (!l.released) {
        EXPECT_TRUE(l.view == l.copy) << "block " << l.token << " changed";
      }
    }
  }  // the destructor releases what is still lent
  for (const Lent& l : lent) EXPECT_TRUE(l.released) << "block " << l.token << " never released";
  *blocks = static_cast<int>(lent.size());
  return out;
}

TEST(ChunkChecker, RunsOfGoodLinesComeAsBlocksOfTheSlotLentUntilReleased) {
  std::string body = Body();
  for (int i = 0; i < 4; ++i) body += body;  // ~1 MiB: several default slots
  const std::vector<Got> want = Reference(body, 512);
  for (size_t chunk : {100u, 4096u, 65536u}) {
    for (size_t slot : {size_t{3000}, size_t{40000}, ChunkChecker::kSlotBytes}) {
      for (bool in_place : {false, true}) {
        SCOPED_TRACE("chunk " + std::to_string(chunk) + " slot " + std::to_string(slot) +
                     (in_place ? " in place" : " copied"));
        int blocks = 0;
        std::vector<Got> got = ThroughBlocks(body, chunk, 5000, slot, &blocks, in_place);
        // Blocks are handed over as soon as their slot is delivered, before the lines of later
        // slots: in order already, but sort by number to compare with the reference anyway.
        std::stable_sort(got.begin(), got.end(),
                         [](const Got& a, const Got& b) { return a.number < b.number; });
        EXPECT_EQ(got.size(), want.size());
        for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
          if (got[i] == want[i]) continue;
          ADD_FAILURE() << "line " << i << ": got " << got[i] << ", want " << want[i];
          break;
        }
        EXPECT_GT(blocks, 3);
      }
    }
  }
}

TEST(ChunkChecker, DeliversWhatTheInlineCheckGivesAtEveryChunkSizeAndThreshold) {
  const std::string body = Body();
  const std::vector<Got> want = Reference(body, 512);
  ASSERT_GT(want.size(), 300u);
  for (size_t chunk : {5u, 17u, 100u, 1000u, 4096u, 65536u}) {
    for (size_t inline_bytes : {size_t{0}, size_t{5000}, body.size()}) {
      // Slots of one byte (every chunk handed over alone), of a few lines, and of the default.
      for (size_t slot : {size_t{1}, size_t{3000}, ChunkChecker::kSlotBytes}) {
        SCOPED_TRACE("chunk " + std::to_string(chunk) + " inline " +
                     std::to_string(inline_bytes) + " slot " + std::to_string(slot));
        bool threaded = false;
        const std::vector<Got> got =
            ThroughChunkChecker(body, 512, chunk, inline_bytes, slot, &threaded);
        EXPECT_EQ(got.size(), want.size());
        for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
          if (got[i] == want[i]) continue;
          ADD_FAILURE() << "line " << i << ": got " << got[i] << ", want " << want[i];
          break;
        }
        EXPECT_EQ(threaded, inline_bytes < body.size());
      }
    }
  }
}

// Worker threads beyond the spare cores add memory (two slots each), not speed: at most
// MaxWorkers() checkers have one at once; the others check inline and take a worker when one is
// free, and every body still gets exactly the reference lines.
TEST(ChunkChecker, AtMostMaxWorkersCheckersHaveAWorkerAtOnce) {
  const std::string body = Body();
  const std::vector<Got> want = Reference(body, 512);
  std::vector<char> padded(body.begin(), body.end());
  padded.resize(body.size() + kLinePadding);
  const int n = ChunkChecker::MaxWorkers() + 1;
  std::vector<std::unique_ptr<ChunkChecker>> checkers;
  std::vector<std::vector<Got>> got(static_cast<size_t>(n));
  std::vector<ChunkChecker::LineFn> fns;
  for (int i = 0; i < n; ++i) {
    checkers.push_back(std::make_unique<ChunkChecker>(512, "Patient", 0, 3000));
    fns.emplace_back([&got, i](const ChunkChecker::Line& l) -> Result<void> {
      got[static_cast<size_t>(i)].push_back(
          {l.number, l.problem, std::string(l.text), std::string(l.id)});
      return Ok();
    });
  }
  const size_t half = body.size() / 2;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(checkers[i]->Feed(std::string_view(padded.data(), half), fns[i]).ok());
  }
  int threaded = 0;
  for (const auto& c : checkers) threaded += c->threaded() ? 1 : 0;
  EXPECT_EQ(threaded, ChunkChecker::MaxWorkers());
  EXPECT_EQ(ChunkChecker::ActiveWorkers(), ChunkChecker::MaxWorkers());
  EXPECT_FALSE(checkers.back()->threaded());
  // The first one finishes and gives its worker back; the last one takes it mid-body.
  ASSERT_TRUE(checkers[0]->Feed(std::string_view(padded.data() + half, body.size() - half),
                                fns[0]).ok());
  ASSERT_TRUE(checkers[0]->Finish(fns[0]).ok());
  checkers[0].reset();
  for (int i = 1; i < n; ++i) {
    ASSERT_TRUE(checkers[i]->Feed(std::string_view(padded.data() + half, body.size() - half),
                                  fns[i]).ok());
    ASSERT_TRUE(checkers[i]->Finish(fns[i]).ok());
  }
  EXPECT_TRUE(checkers.back()->threaded());
  checkers.clear();
  EXPECT_EQ(ChunkChecker::ActiveWorkers(), 0);
  for (int i = 0; i < n; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], want) << "checker " << i;
}

TEST(ChunkChecker, AnErrorFromTheCallerStopsDeliveryInlineAndThreaded) {
  const std::string body = Body();
  for (size_t inline_bytes : {size_t{0}, body.size()}) {
    ChunkChecker cc(512, "Patient", inline_bytes, 1000);
    int calls = 0;
    const ChunkChecker::LineFn fn = [&](const ChunkChecker::Line&) -> Result<void> {
      if (++calls == 10) return MakeError(ErrorKind::kIo, "disk full");
      return Ok();
    };
    Result<void> r = Ok();
    for (size_t i = 0; i < body.size() && r; i += 64) {
      std::vector<char> block(64 + kLinePadding, ' ');
      const size_t n = std::min<size_t>(64, body.size() - i);
      std::memcpy(block.data(), body.data() + i, n);
      r = cc.Feed(std::string_view(block.data(), n), fn);
    }
    if (r) r = cc.Finish(fn);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "disk full");
    EXPECT_EQ(calls, 10);
  }
}

TEST(ChunkChecker, DestroyedMidBodyWithChunksStillQueuedJoinsItsWorker) {
  const std::string body = Body();
  ChunkChecker cc(512, "Patient", 0, 4000);
  int calls = 0;
  const ChunkChecker::LineFn fn = [&](const ChunkChecker::Line&) -> Result<void> {
    ++calls;
    return Ok();
  };
  std::vector<char> padded(body.begin(), body.end());
  padded.resize(body.size() + kLinePadding);
  ASSERT_TRUE(cc.Feed(std::string_view(padded.data(), 5000), fn).ok());
  ASSERT_TRUE(cc.Feed(std::string_view(padded.data() + 5000, 5000), fn).ok());
  EXPECT_TRUE(cc.threaded());
  // The first slot's lines are delivered once the second slot is queued; the second one is
  // still queued (or being checked) when the checker is destroyed.
  EXPECT_GT(calls, 0);
}  // the destructor stops the worker; the test fails by hanging (ctest timeout) or under ASan

}  // namespace
}  // namespace p2p::fhir
