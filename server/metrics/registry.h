// A small Prometheus metrics registry: counter, gauge and histogram families with labels, rendered in
// the text exposition format (version 0.0.4,
// https://github.com/prometheus/docs/blob/main/content/docs/instrumenting/exposition_formats.md).
// Thread-safe; a family is registered once and lives as long as the registry.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace cricket::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

using LabelValues = std::vector<std::string>;

class Family {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::vector<double> buckets);

  // The number of values must equal the number of label names (a mismatch is a programming error and
  // is ignored with nothing recorded).
  void Add(const LabelValues& labels, double delta);      // counter, gauge
  void Set(const LabelValues& labels, double value);      // gauge
  void Observe(const LabelValues& labels, double value);  // histogram
  void Remove(const LabelValues& labels);
  void Clear();
  // For tests: a counter's or gauge's value (0 when the series does not exist), a histogram's count.
  double Value(const LabelValues& labels) const;

  const std::string& name() const { return name_; }
  void Render(std::string* out) const;

 private:
  struct Series {
    double value = 0;
    std::vector<uint64_t> buckets;  // per upper bound, not cumulative
    double sum = 0;
    uint64_t count = 0;
  };
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histogram bucket upper bounds, ascending
  mutable absl::Mutex mu_;
  std::map<LabelValues, Series> series_ ABSL_GUARDED_BY(mu_);
};

class Registry {
 public:
  // Registers a family; `buckets` only for histograms. The name must be unique and match
  // [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (checked by the callers' tests).
  Family* Add(std::string name, std::string help, MetricType type, std::vector<std::string> label_names = {},
              std::vector<double> buckets = {});
  // Runs before every Render, e.g. to set gauges read from the system.
  void AddCollectHook(std::function<void()> hook);

  // The text exposition of every family with at least one series, in registration order.
  std::string Render() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> hooks_ ABSL_GUARDED_BY(mu_);
};

// Text format helpers (exposed for tests).
std::string EscapeLabelValue(std::string_view v);  // \ " and newline escaped
std::string EscapeHelp(std::string_view v);        // \ and newline escaped
std::string FormatValue(double v);                 // integers exactly, +Inf/-Inf/NaN spelled out

}  // namespace cricket::metrics
