#include "server/metrics/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace cricket::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RegistryTest, RendersCountersGaugesWithHelpTypeAndLabels) {
  Registry r;
  Family* ops = r.Add("x_ops_total", "Operations.\nSecond line \\ here", MetricType::kCounter, {"operation"});
  Family* up = r.Add("x_up", "Up.", MetricType::kGauge);
  ops->Add({"Version"}, 1);
  ops->Add({"Version"}, 2);
  ops->Add({"Status"}, 1);
  up->Set({}, 12.5);
  EXPECT_EQ(r.Render(),
            "# HELP x_ops_total Operations.\\nSecond line \\\\ here\n"
            "# TYPE x_ops_total counter\n"
            "x_ops_total{operation=\"Status\"} 1\n"
            "x_ops_total{operation=\"Version\"} 3\n"
            "# HELP x_up Up.\n"
            "# TYPE x_up gauge\n"
            "x_up 12.5\n");
}

TEST(RegistryTest, FamiliesWithoutSeriesAreNotRendered) {
  Registry r;
  r.Add("x_empty", "Nothing yet.", MetricType::kCounter, {"a"});
  EXPECT_EQ(r.Render(), "");
}

TEST(RegistryTest, LabelValuesAreEscaped) {
  Registry r;
  Family* f = r.Add("x", "h", MetricType::kGauge, {"name"});
  f->Set({"a\"b\\c\nd"}, 1);
  EXPECT_THAT(r.Render(), HasSubstr("x{name=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  Family* h = r.Add("x_seconds", "Latency.", MetricType::kHistogram, {"op"}, {0.1, 1, 10});
  h->Observe({"a"}, 0.05);
  h->Observe({"a"}, 0.5);
  h->Observe({"a"}, 0.5);
  h->Observe({"a"}, 100);
  EXPECT_EQ(r.Render(),
            "# HELP x_seconds Latency.\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{op=\"a\",le=\"0.1\"} 1\n"
            "x_seconds_bucket{op=\"a\",le=\"1\"} 3\n"
            "x_seconds_bucket{op=\"a\",le=\"10\"} 3\n"
            "x_seconds_bucket{op=\"a\",le=\"+Inf\"} 4\n"
            "x_seconds_sum{op=\"a\"} 101.05\n"
            "x_seconds_count{op=\"a\"} 4\n");
  EXPECT_EQ(h->Value({"a"}), 4);
}

TEST(RegistryTest, WrongLabelCountRecordsNothingAndRemoveDropsASeries) {
  Registry r;
  Family* f = r.Add("x", "h", MetricType::kCounter, {"a", "b"});
  f->Add({"only-one"}, 1);
  EXPECT_EQ(r.Render(), "");
  f->Add({"1", "2"}, 1);
  f->Add({"3", "4"}, 1);
  f->Remove({"1", "2"});
  EXPECT_THAT(r.Render(), Not(HasSubstr("a=\"1\"")));
  EXPECT_THAT(r.Render(), HasSubstr("x{a=\"3\",b=\"4\"} 1\n"));
}

TEST(RegistryTest, CollectHooksRunBeforeEachRender) {
  Registry r;
  Family* g = r.Add("x_calls", "h", MetricType::kGauge);
  int calls = 0;
  r.AddCollectHook([&] { g->Set({}, ++calls); });
  EXPECT_THAT(r.Render(), HasSubstr("x_calls 1\n"));
  EXPECT_THAT(r.Render(), HasSubstr("x_calls 2\n"));
}

TEST(RegistryTest, FormatValue) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(123456789012), "123456789012");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1.0 / 3), "0.3333333333333333");
}

}  // namespace
}  // namespace cricket::metrics
