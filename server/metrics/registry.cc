#include "server/metrics/registry.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "lib/common/strings.h"

namespace cricket::metrics {

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {  // 2^53: exact as an integer
    return StrCat(static_cast<int64_t>(v));
  }
  // The shortest of %.15g..%.17g that reads back as the same double (0.1, not 0.10000000000000001).
  char buf[64];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

Family::Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
               std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(buckets)) {}

void Family::Add(const LabelValues& labels, double delta) {
  if (labels.size() != label_names_.size() || type_ == MetricType::kHistogram) return;
  absl::MutexLock l(&mu_);
  series_[labels].value += delta;
}

void Family::Set(const LabelValues& labels, double value) {
  if (labels.size() != label_names_.size() || type_ == MetricType::kHistogram) return;
  absl::MutexLock l(&mu_);
  series_[labels].value = value;
}

void Family::Observe(const LabelValues& labels, double value) {
  if (labels.size() != label_names_.size() || type_ != MetricType::kHistogram) return;
  absl::MutexLock l(&mu_);
  Series& s = series_[labels];
  if (s.buckets.empty()) s.buckets.assign(bounds_.size(), 0);
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      ++s.buckets[i];
      break;
    }
  }
  s.sum += value;
  ++s.count;
}

void Family::Remove(const LabelValues& labels) {
  absl::MutexLock l(&mu_);
  series_.erase(labels);
}

void Family::Clear() {
  absl::MutexLock l(&mu_);
  series_.clear();
}

double Family::Value(const LabelValues& labels) const {
  absl::MutexLock l(&mu_);
  auto it = series_.find(labels);
  if (it == series_.end()) return 0;
  return type_ == MetricType::kHistogram ? static_cast<double>(it->second.count) : it->second.value;
}

namespace {

// `{a="x",b="y"}` with an optional extra label (a histogram's le); "" without labels.
std::string LabelText(const std::vector<std::string>& names, const LabelValues& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    StrAppend(&out, i ? "," : "", names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (!extra_name.empty()) {
    StrAppend(&out, names.empty() ? "" : ",", extra_name, "=\"", extra_value, "\"");
  }
  out += "}";
  return out;
}

std::string_view TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void Family::Render(std::string* out) const {
  absl::MutexLock l(&mu_);
  if (series_.empty()) return;
  StrAppend(out, "# HELP ", name_, " ", EscapeHelp(help_), "\n# TYPE ", name_, " ", TypeName(type_), "\n");
  for (const auto& [labels, s] : series_) {
    if (type_ != MetricType::kHistogram) {
      StrAppend(out, name_, LabelText(label_names_, labels), " ", FormatValue(s.value), "\n");
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += s.buckets[i];
      StrAppend(out, name_, "_bucket", LabelText(label_names_, labels, "le", FormatValue(bounds_[i])), " ",
                cumulative, "\n");
    }
    StrAppend(out, name_, "_bucket", LabelText(label_names_, labels, "le", "+Inf"), " ", s.count, "\n");
    StrAppend(out, name_, "_sum", LabelText(label_names_, labels), " ", FormatValue(s.sum), "\n");
    StrAppend(out, name_, "_count", LabelText(label_names_, labels), " ", s.count, "\n");
  }
}

Family* Registry::Add(std::string name, std::string help, MetricType type,
                      std::vector<std::string> label_names, std::vector<double> buckets) {
  auto f = std::make_unique<Family>(std::move(name), std::move(help), type, std::move(label_names),
                                    std::move(buckets));
  Family* raw = f.get();
  absl::MutexLock l(&mu_);
  families_.push_back(std::move(f));
  return raw;
}

void Registry::AddCollectHook(std::function<void()> hook) {
  absl::MutexLock l(&mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::Render() const {
  absl::MutexLock l(&mu_);
  for (const auto& hook : hooks_) hook();
  std::string out;
  for (const auto& f : families_) f->Render(&out);
  return out;
}

}  // namespace cricket::metrics
