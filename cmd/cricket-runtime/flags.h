// A small command-line parser with runc's (urfave/cli) conventions: "--name value", "--name=value",
// "-n value", single-dash long names ("-root"), boolean flags without a value, repeated flags, and "--"
// ending the flags. Flags of a command come before its positional arguments; everything from the
// first positional argument on is positional (so `exec ID sh -c x` passes "-c" to the container).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::cli {

struct FlagSpec {
  std::string name;        // long name without dashes ("bundle")
  std::string short_name;  // "b", or ""
  bool boolean = false;
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> values;  // by long name; booleans hold "true"
  std::vector<std::string> positional;
  size_t first_positional = 0;  // index in args of positional[0] (args.size() when none)

  bool Has(const std::string& name) const { return values.contains(name); }
  bool Bool(const std::string& name) const;
  // The last value given, or `def`.
  std::string Get(const std::string& name, const std::string& def = "") const;
  std::vector<std::string> All(const std::string& name) const;
};

// Parses args[begin..] against `flags`; stops at the first positional argument when
// `stop_at_positional`, leaving the rest positional. Unknown flags are an error naming the flag.
absl::StatusOr<ParsedArgs> ParseFlags(const std::vector<std::string>& args, size_t begin,
                                      const std::vector<FlagSpec>& flags, bool stop_at_positional = true);

}  // namespace cricket::cli
