#include "cmd/cricket-runtime/flags.h"

#include "lib/common/strings.h"

namespace cricket::cli {

bool ParsedArgs::Bool(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return false;
  const std::string& v = it->second.back();
  return v == "true" || v == "1" || v == "yes";
}

std::string ParsedArgs::Get(const std::string& name, const std::string& def) const {
  auto it = values.find(name);
  return it == values.end() || it->second.empty() ? def : it->second.back();
}

std::vector<std::string> ParsedArgs::All(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

absl::StatusOr<ParsedArgs> ParseFlags(const std::vector<std::string>& args, size_t begin,
                                      const std::vector<FlagSpec>& flags, bool stop_at_positional) {
  ParsedArgs out;
  out.first_positional = args.size();
  bool only_positional = false;
  for (size_t i = begin; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positional || a.size() < 2 || a[0] != '-') {
      if (out.positional.empty()) out.first_positional = i;
      out.positional.push_back(a);
      if (stop_at_positional) only_positional = true;
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string_view body = std::string_view(a).substr(a[1] == '-' ? 2 : 1);
    std::string name(body), value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      name = std::string(body.substr(0, eq));
      value = std::string(body.substr(eq + 1));
      has_value = true;
    }
    const FlagSpec* spec = nullptr;
    for (const auto& f : flags) {
      if (f.name == name || (!f.short_name.empty() && f.short_name == name)) spec = &f;
    }
    if (spec == nullptr) return absl::InvalidArgumentError(StrCat("flag provided but not defined: -", name));
    if (spec->boolean) {
      out.values[spec->name].push_back(has_value ? value : "true");
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(StrCat("flag needs an argument: -", name));
      value = args[++i];
    }
    out.values[spec->name].push_back(value);
  }
  return out;
}

}  // namespace cricket::cli
