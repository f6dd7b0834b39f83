// OCI hook definitions from hooks directories (oci-hooks(5), schema 1.0.0; crio.conf `hooks_dir`): JSON
// files that say which hook to inject into a container's spec, at which stages, and when.
//
//   {"version": "1.0.0",
//    "hook": {"path": "/usr/bin/hook", "args": ["hook", "prestart"], "env": [...], "timeout": 5},
//    "when": {"always": true, "annotations": {"^key$": "value-regex"}, "commands": ["regex"],
//             "hasBindMounts": true},
//    "stages": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]}
//
// A hook is injected when every condition its `when` sets holds (1.0.0 is all-of; at least one must be
// set): `always` is true; some annotation's key and value match a pair of regular expressions; the
// process's args[0] matches one of `commands`; the spec has (or has no) bind mount, as `hasBindMounts`
// says. Regular expressions match anywhere in the string unless anchored. Files are read in name order;
// of files with the same name in several directories, the one in the later directory wins (the list is
// in increasing precedence). Only files ending in ".json" are read; a missing directory holds none.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/oci/spec.h"

namespace cricket::oci {

struct HookDefinition {
  std::string file;  // where it was read from, for messages
  Hook hook;
  std::vector<std::string> stages;  // as in config.json: "prestart", "createRuntime", ...
  std::optional<bool> always;
  std::vector<std::pair<std::regex, std::regex>> annotations;
  std::vector<std::regex> commands;
  std::optional<bool> has_bind_mounts;

  bool Matches(const Spec& spec) const;
};

// Parses one definition; errors name `file` and the property.
absl::StatusOr<HookDefinition> ParseHookDefinition(std::string_view json_text, const std::string& file);

// Every definition in `dirs` (increasing precedence), in injection order.
absl::StatusOr<std::vector<HookDefinition>> LoadHookDefinitions(const std::vector<std::string>& dirs);

// Appends the hook of every matching definition to the stages it names, in order. Returns the files of
// the definitions injected (for logs).
std::vector<std::string> InjectHooks(const std::vector<HookDefinition>& definitions, Spec* spec);

// The definitions of a set of directories, re-read when a directory or one of its files changes (names,
// sizes and modification times are compared on every call: a few stat calls). Thread-safe.
class HooksDirCache {
 public:
  // The current definitions, or the error of the file that does not parse (naming it).
  absl::StatusOr<std::shared_ptr<const std::vector<HookDefinition>>> Get(
      const std::vector<std::string>& dirs);

 private:
  absl::Mutex mu_;
  std::string signature_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const std::vector<HookDefinition>> definitions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cricket::oci
