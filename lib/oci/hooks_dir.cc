#include "lib/oci/hooks_dir.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/json_reader.h"

namespace cricket::oci {
namespace {

using json::Json;
using json::Object;

constexpr std::string_view kStages[] = {"prestart",       "createRuntime", "createContainer",
                                        "startContainer", "poststart",     "poststop"};

absl::StatusOr<std::regex> Compile(const std::string& pattern, const std::string& path) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return json::PathError(path, StrCat("invalid regular expression \"", pattern, "\": ", e.what()));
  }
}

bool HasBindMount(const Spec& spec) {
  for (const Mount& m : spec.mounts) {
    if (m.type == "bind") return true;
    for (const std::string& o : m.options) {
      if (o == "bind" || o == "rbind") return true;
    }
  }
  return false;
}

std::vector<Hook>* StageOf(Hooks& hooks, std::string_view stage) {
  if (stage == "prestart") return &hooks.prestart;
  if (stage == "createRuntime") return &hooks.create_runtime;
  if (stage == "createContainer") return &hooks.create_container;
  if (stage == "startContainer") return &hooks.start_container;
  if (stage == "poststart") return &hooks.poststart;
  if (stage == "poststop") return &hooks.poststop;
  return nullptr;
}

// "<dir>/<name>" of every *.json file, later directories masking earlier ones, sorted by name.
std::vector<std::string> DefinitionFiles(const std::vector<std::string>& dirs) {
  std::map<std::string, std::string> by_name;
  for (const std::string& dir : dirs) {
    auto names = ListDir(dir);
    if (!names.ok()) continue;  // a missing directory holds no hooks
    for (const std::string& name : *names) {
      if (name.ends_with(".json") && name.front() != '.') by_name[name] = JoinPath(dir, name);
    }
  }
  std::vector<std::string> files;
  for (auto& [name, path] : by_name) files.push_back(std::move(path));
  return files;
}

}  // namespace

bool HookDefinition::Matches(const Spec& spec) const {
  if (always.has_value() && !*always) return false;
  if (!annotations.empty()) {
    bool any = false;
    for (const auto& [key, value] : annotations) {
      for (const auto& [k, v] : spec.annotations) {
        if (std::regex_search(k, key) && std::regex_search(v, value)) any = true;
      }
    }
    if (!any) return false;
  }
  if (!commands.empty()) {
    if (!spec.process || spec.process->args.empty()) return false;
    const std::string& arg0 = spec.process->args.front();
    if (std::none_of(commands.begin(), commands.end(),
                     [&](const std::regex& r) { return std::regex_search(arg0, r); })) {
      return false;
    }
  }
  if (has_bind_mounts.has_value() && *has_bind_mounts != HasBindMount(spec)) return false;
  return true;
}

absl::StatusOr<HookDefinition> ParseHookDefinition(std::string_view json_text, const std::string& file) {
  ASSIGN_OR_RETURN(Json v, ParseJson(json_text, file));
  HookDefinition d;
  d.file = file;
  auto parse = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Object o, Object::Of(v, ""));
    std::string version;
    RETURN_IF_ERROR(o.Req("version", &version));
    if (version != "1.0.0")
      return json::PathError("version", StrCat("\"", version, "\" is not supported (want 1.0.0)"));
    const Json* hook = o.Find("hook");
    if (hook == nullptr) return json::PathError("hook", "required property missing");
    RETURN_IF_ERROR(ReadHook(*hook, "hook", &d.hook));
    if (d.hook.path.empty() || d.hook.path.front() != '/') {
      return json::PathError("hook.path", StrCat("\"", d.hook.path, "\" is not an absolute path"));
    }
    if (d.hook.timeout && *d.hook.timeout <= 0) return json::PathError("hook.timeout", "must be positive");
    RETURN_IF_ERROR(o.OptArray("stages", &d.stages));
    if (d.stages.empty()) return json::PathError("stages", "must name at least one stage");
    for (const std::string& s : d.stages) {
      if (std::find(std::begin(kStages), std::end(kStages), s) == std::end(kStages)) {
        return json::PathError("stages", StrCat("unknown stage \"", s, "\""));
      }
    }
    const Json* when_json = o.Find("when");
    if (when_json == nullptr) return json::PathError("when", "required property missing");
    ASSIGN_OR_RETURN(Object when, Object::Of(*when_json, "when"));
    RETURN_IF_ERROR(when.Opt("always", &d.always));
    RETURN_IF_ERROR(when.Opt("hasBindMounts", &d.has_bind_mounts));
    std::map<std::string, std::string> annotations;
    RETURN_IF_ERROR(when.OptMap("annotations", &annotations));
    for (const auto& [k, val] : annotations) {
      std::string path = json::KeyPath("when.annotations", k);
      ASSIGN_OR_RETURN(std::regex key, Compile(k, path));
      ASSIGN_OR_RETURN(std::regex value, Compile(val, path));
      d.annotations.emplace_back(std::move(key), std::move(value));
    }
    std::vector<std::string> commands;
    RETURN_IF_ERROR(when.OptArray("commands", &commands));
    for (size_t i = 0; i < commands.size(); ++i) {
      ASSIGN_OR_RETURN(std::regex r, Compile(commands[i], json::IndexPath("when.commands", i)));
      d.commands.push_back(std::move(r));
    }
    if (!d.always && d.annotations.empty() && d.commands.empty() && !d.has_bind_mounts) {
      return json::PathError("when", "sets no condition (always, annotations, commands or hasBindMounts)");
    }
    return absl::OkStatus();
  };
  if (absl::Status st = parse(); !st.ok()) {
    return absl::InvalidArgumentError(StrCat("hook definition ", file, ": ", ToStd(st.message())));
  }
  return d;
}

absl::StatusOr<std::vector<HookDefinition>> LoadHookDefinitions(const std::vector<std::string>& dirs) {
  std::vector<HookDefinition> out;
  for (const std::string& file : DefinitionFiles(dirs)) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(file, 1 << 20));
    ASSIGN_OR_RETURN(HookDefinition d, ParseHookDefinition(text, file));
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> InjectHooks(const std::vector<HookDefinition>& definitions, Spec* spec) {
  std::vector<std::string> injected;
  for (const HookDefinition& d : definitions) {
    if (!d.Matches(*spec)) continue;
    if (!spec->hooks) spec->hooks.emplace();
    for (const std::string& stage : d.stages) StageOf(*spec->hooks, stage)->push_back(d.hook);
    injected.push_back(d.file);
  }
  return injected;
}

absl::StatusOr<std::shared_ptr<const std::vector<HookDefinition>>> HooksDirCache::Get(
    const std::vector<std::string>& dirs) {
  std::string signature;
  for (const std::string& dir : dirs) {
    StrAppend(&signature, dir, "\n");
    for (const std::string& file : DefinitionFiles({dir})) {
      struct stat st {};
      if (::stat(file.c_str(), &st) != 0) continue;
      StrAppend(&signature, file, " ", st.st_size, " ", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, "\n");
    }
  }
  absl::MutexLock l(&mu_);
  if (definitions_ && signature == signature_) return definitions_;
  ASSIGN_OR_RETURN(std::vector<HookDefinition> defs, LoadHookDefinitions(dirs));
  definitions_ = std::make_shared<const std::vector<HookDefinition>>(std::move(defs));
  signature_ = std::move(signature);
  return definitions_;
}

}  // namespace cricket::oci
