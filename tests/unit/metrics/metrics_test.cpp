#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace p2p {
namespace {

bool HasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, RendersACounterWithHelpAndType) {
  Metrics m;
  m.GetCounter(metric::kHttpRequests, {{"payer", "bison"}, {"endpoint", "file"}, {"code", "200"}})
      .Inc(3);
  const std::string text = m.RenderPrometheus();
  EXPECT_NE(
      text.find("# HELP p2p_http_requests_total HTTP requests to prior payers by payer, "
                "endpoint and status code (code=\"error\" when no answer arrived).\n"
                "# TYPE p2p_http_requests_total counter\n"
                "p2p_http_requests_total{payer=\"bison\",endpoint=\"file\",code=\"200\"} 3\n"),
      std::string::npos)
      << text;
}

TEST(Metrics, SameLabelsResolveToTheSameCounter) {
  Metrics m;
  Counter& a = m.GetCounter(metric::kHttpRetries, {{"payer", "bison"}, {"endpoint", "poll"}});
  Counter& b = m.GetCounter(metric::kHttpRetries, {{"payer", "bison"}, {"endpoint", "poll"}});
  Counter& c = m.GetCounter(metric::kHttpRetries, {{"payer", "elk"}, {"endpoint", "poll"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  a.Inc();
  b.Inc();
  EXPECT_EQ(a.value(), 2u);
  EXPECT_EQ(c.value(), 0u);
}

TEST(Metrics, EscapesLabelValues) {
  Metrics m;
  m.GetCounter(metric::kBadLines, {{"type", "a\"b\\c\nd"}}).Inc();
  EXPECT_TRUE(HasLine(m.RenderPrometheus(), R"(p2p_bad_lines_total{type="a\"b\\c\nd"} 1)"));
}

TEST(Metrics, EscapesHelpText) {
  Metrics m;
  m.Define("t_total", MetricType::kCounter, "back\\slash\nnewline");
  EXPECT_TRUE(HasLine(m.RenderPrometheus(), R"(# HELP t_total back\\slash\nnewline)"));
}

TEST(Metrics, CutsLongLabelValues) {
  Metrics m;
  m.GetCounter(metric::kBadLines, {{"type", std::string(500, 'x')}}).Inc();
  EXPECT_TRUE(HasLine(
      m.RenderPrometheus(),
      "p2p_bad_lines_total{type=\"" + std::string(Metrics::kMaxLabelValueBytes, 'x') + "\"} 1"));
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics m;
  m.Define("t_seconds", MetricType::kHistogram, "test", {1, 0.25});  // sorted on definition
  Histogram& h = m.GetHistogram("t_seconds", {{"payer", "bison"}});
  h.Observe(0.125);
  h.Observe(0.25);  // upper bounds are inclusive
  h.Observe(0.5);
  h.Observe(4);
  EXPECT_EQ(h.count(), 4u);
  const std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE t_seconds histogram\n"
                      "t_seconds_bucket{payer=\"bison\",le=\"0.25\"} 2\n"
                      "t_seconds_bucket{payer=\"bison\",le=\"1\"} 3\n"
                      "t_seconds_bucket{payer=\"bison\",le=\"+Inf\"} 4\n"
                      "t_seconds_sum{payer=\"bison\"} 4.875\n"
                      "t_seconds_count{payer=\"bison\"} 4\n"),
            std::string::npos)
      << text;
}

TEST(Metrics, LatencyHistogramUsesTheDefaultBuckets) {
  Metrics m;
  m.GetHistogram(metric::kHttpDuration, {{"payer", "bison"}, {"endpoint", "file"}}).Observe(0.3);
  const std::string text = m.RenderPrometheus();
  EXPECT_TRUE(HasLine(text,
                      "p2p_http_request_duration_seconds_bucket{payer=\"bison\",endpoint=\"file\","
                      "le=\"0.25\"} 0"));
  EXPECT_TRUE(HasLine(text,
                      "p2p_http_request_duration_seconds_bucket{payer=\"bison\",endpoint=\"file\","
                      "le=\"0.5\"} 1"));
  EXPECT_TRUE(HasLine(
      text, "p2p_http_request_duration_seconds_count{payer=\"bison\",endpoint=\"file\"} 1"));
}

TEST(Metrics, GaugesPrintIntegersWithoutExponent) {
  Metrics m;
  m.GetGauge(metric::kLastSuccess, {{"payer", "bison"}}).Set(1700000000);
  m.GetGauge(metric::kDeadlinePast).Set(0.25);
  const std::string text = m.RenderPrometheus();
  EXPECT_TRUE(HasLine(text, "p2p_last_success_timestamp_seconds{payer=\"bison\"} 1700000000"));
  EXPECT_TRUE(HasLine(text, "p2p_members_deadline_past 0.25"));
}

TEST(Metrics, FamilyWithoutSeriesStillHasHelpAndType) {
  Metrics m;
  const std::string text = m.RenderPrometheus();
  EXPECT_TRUE(HasLine(text, "# TYPE p2p_deadline_breaches_total counter"));
  EXPECT_TRUE(HasLine(text,
                      "# HELP p2p_deadline_breaches_total Members first requested after "
                      "their CMS-0057-F one-week deadline, by payer."));
}

TEST(Metrics, UndeclaredFamilyHasNoHelpLine) {
  Metrics m;
  m.GetCounter("t_adhoc_total").Inc();
  const std::string text = m.RenderPrometheus();
  EXPECT_EQ(text.find("# HELP t_adhoc_total"), std::string::npos);
  EXPECT_NE(text.find("# TYPE t_adhoc_total counter\nt_adhoc_total 1\n"), std::string::npos);
}

TEST(Metrics, WrongTypeOrBadLabelNameIsDetached) {
  Metrics m;
  Gauge& wrong = m.GetGauge(metric::kHttpRequests, {{"payer", "bison"}});
  wrong.Set(7);
  EXPECT_EQ(wrong.value(), 7);
  Counter& bad = m.GetCounter(metric::kBadLines, {{"bad-name", "x"}});
  bad.Inc();
  const std::string text = m.RenderPrometheus();
  EXPECT_EQ(text.find("p2p_http_requests_total{"), std::string::npos);
  EXPECT_EQ(text.find("bad-name"), std::string::npos);
}

TEST(Metrics, SeriesBeyondTheCapAreDetached) {
  Metrics m;
  for (size_t i = 0; i < Metrics::kMaxSeriesPerFamily + 5; ++i) {
    m.GetCounter("t_many_total", {{"i", std::to_string(i)}}).Inc();
  }
  const std::string text = m.RenderPrometheus();
  size_t lines = 0;
  for (size_t pos = 0; (pos = text.find("\nt_many_total{", pos)) != std::string::npos; ++pos) {
    ++lines;
  }
  EXPECT_EQ(lines, Metrics::kMaxSeriesPerFamily);
}

TEST(Metrics, IncrementsFromTwoThreadsAllCount) {
  Metrics m;
  Counter& c = m.GetCounter(metric::kResourcesStored, {{"type", "Patient"}});
  Histogram& h = m.GetHistogram(metric::kHttpDuration, {{"payer", "bison"}, {"endpoint", "file"}});
  auto work = [&] {
    for (int i = 0; i < 100000; ++i) {
      c.Inc();
      h.Observe(0.001);
    }
  };
  std::thread t(work);
  work();
  t.join();
  EXPECT_EQ(c.value(), 200000u);
  EXPECT_EQ(h.count(), 200000u);
}

}  // namespace
}  // namespace p2p
