#include "lib/image/registries_conf.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <optional>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::image {

namespace {

// Reads typed values out of one file's TOML with errors that name file, line and key.
struct TomlReader {
  const std::string& file;
  std::vector<std::string>* warnings;

  std::string Where(const toml::node& n) const { return StrCat(file, ":", n.source().begin.line); }
  absl::Status Error(const toml::node& n, std::string_view key, std::string_view msg) const {
    return absl::InvalidArgumentError(StrCat(Where(n), ": ", key, ": ", msg));
  }
  void Warn(const toml::node& n, std::string_view msg) const {
    if (warnings) warnings->push_back(StrCat(Where(n), ": ", msg));
  }
  absl::StatusOr<std::string> String(const toml::node& n, std::string_view key) const {
    if (!n.is_string()) return Error(n, key, "expected a string");
    return *n.value<std::string>();
  }
  absl::StatusOr<bool> Bool(const toml::node& n, std::string_view key) const {
    if (!n.is_boolean()) return Error(n, key, "expected a boolean");
    return *n.value<bool>();
  }
  absl::StatusOr<std::vector<std::string>> Strings(const toml::node& n, std::string_view key) const {
    const toml::array* arr = n.as_array();
    if (arr == nullptr) return Error(n, key, "expected an array of strings");
    std::vector<std::string> out;
    for (const toml::node& e : *arr) {
      if (!e.is_string()) return Error(e, StrCat(key, "[", out.size(), "]"), "expected a string");
      out.push_back(*e.value<std::string>());
    }
    return out;
  }
};

// "host[:port][/path][:tag|@digest]" with a valid host part.
absl::Status ValidateLocation(std::string_view value) {
  size_t slash = value.find('/');
  std::string_view domain = value.substr(0, slash);
  if (!IsValidDomain(domain)) {
    return absl::InvalidArgumentError(StrCat("\"", value, "\" does not start with a registry host[:port]"));
  }
  if (slash == std::string_view::npos) return absl::OkStatus();
  auto ref = Reference::Parse(value);
  if (!ref.ok()) return ref.status();
  if (ref->domain() != domain) {
    return absl::InvalidArgumentError(
        StrCat("\"", value, "\": \"", domain, "\" is not a registry host (want a '.' or ':' or localhost)"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePrefix(std::string_view value) {
  if (value.starts_with("*.")) {
    std::string_view rest = value.substr(2);
    if (rest.find_first_of(":/*") != std::string_view::npos || !IsValidDomain(rest)) {
      return absl::InvalidArgumentError(
          StrCat("wildcard prefix \"", value, "\" must have the form *.example.com (no port or path)"));
    }
    return absl::OkStatus();
  }
  if (value.find('*') != std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("\"", value, "\": '*' is only allowed as a leading \"*.\""));
  }
  return ValidateLocation(value);
}

absl::StatusOr<PullFromMirror> ParsePullFromMirror(std::string_view v) {
  if (v.empty() || v == "all") return PullFromMirror::kAll;
  if (v == "digest-only") return PullFromMirror::kDigestOnly;
  if (v == "tag-only") return PullFromMirror::kTagOnly;
  return absl::InvalidArgumentError(StrCat("invalid value \"", v, "\" (want all, digest-only or tag-only)"));
}

absl::StatusOr<RegistryMirror> ReadMirror(const TomlReader& r, const toml::table& t,
                                          const std::string& name) {
  RegistryMirror m;
  for (auto&& [k, node] : t) {
    std::string key = StrCat(name, ".", k.str());
    if (k.str() == "location") {
      ASSIGN_OR_RETURN(m.location, r.String(node, key));
      if (absl::Status s = ValidateLocation(m.location); !s.ok()) {
        return r.Error(node, key, ToStd(s.message()));
      }
    } else if (k.str() == "insecure") {
      ASSIGN_OR_RETURN(m.insecure, r.Bool(node, key));
    } else if (k.str() == "pull-from-mirror") {
      ASSIGN_OR_RETURN(std::string v, r.String(node, key));
      auto p = ParsePullFromMirror(v);
      if (!p.ok()) return r.Error(node, key, ToStd(p.status().message()));
      m.pull_from_mirror = *p;
    } else {
      r.Warn(node, StrCat("unknown key ", key, " (ignored)"));
    }
  }
  if (m.location.empty()) return r.Error(t, name, "a mirror needs a location");
  return m;
}

absl::StatusOr<RegistryEntry> ReadRegistry(const TomlReader& r, const toml::table& t,
                                           const std::string& name) {
  RegistryEntry e;
  e.origin = r.Where(t);
  bool pull_from_mirror_set = false;
  for (auto&& [k, node] : t) {
    std::string key = StrCat(name, ".", k.str());
    std::string_view kv = k.str();
    if (kv == "prefix") {
      ASSIGN_OR_RETURN(e.prefix, r.String(node, key));
      if (absl::Status s = ValidatePrefix(e.prefix); !s.ok()) return r.Error(node, key, ToStd(s.message()));
    } else if (kv == "location") {
      ASSIGN_OR_RETURN(e.location, r.String(node, key));
      if (absl::Status s = ValidateLocation(e.location); !s.ok())
        return r.Error(node, key, ToStd(s.message()));
    } else if (kv == "insecure") {
      ASSIGN_OR_RETURN(e.insecure, r.Bool(node, key));
    } else if (kv == "blocked") {
      ASSIGN_OR_RETURN(e.blocked, r.Bool(node, key));
    } else if (kv == "mirror-by-digest-only") {
      ASSIGN_OR_RETURN(e.mirror_by_digest_only, r.Bool(node, key));
    } else if (kv == "mirror") {
      const toml::array* arr = node.as_array();
      if (arr == nullptr) return r.Error(node, key, "expected [[registry.mirror]] tables");
      for (const toml::node& m : *arr) {
        std::string mname = StrCat(key, "[", e.mirrors.size(), "]");
        if (!m.is_table()) return r.Error(m, mname, "expected a table");
        ASSIGN_OR_RETURN(RegistryMirror mirror, ReadMirror(r, *m.as_table(), mname));
        if (const toml::node* p = m.as_table()->get("pull-from-mirror"); p && p->value<std::string>() != "") {
          pull_from_mirror_set = true;
        }
        e.mirrors.push_back(std::move(mirror));
      }
    } else {
      r.Warn(node, StrCat("unknown key ", key, " (ignored)"));
    }
  }
  if (e.prefix.empty() && e.location.empty()) return r.Error(t, name, "needs a prefix or a location");
  if (e.prefix.empty()) e.prefix = e.location;
  if (e.location.empty() && !e.wildcard()) e.location = e.prefix;
  if (e.mirror_by_digest_only && pull_from_mirror_set) {
    return r.Error(t, name, "pull-from-mirror cannot be set on a mirror when mirror-by-digest-only is true");
  }
  return e;
}

// Length of `prefix` matched by `ref` or -1. A host-only prefix must be followed by "/" (a ":" there
// would be another port); one with a path may also be followed by ":tag" or "@digest".
int MatchLength(const RegistryEntry& e, const Reference& ref, const std::string& text) {
  if (e.wildcard()) {
    std::string_view suffix = std::string_view(e.prefix).substr(1);  // ".example.com"
    const std::string& d = ref.domain();
    return d.size() > suffix.size() && d.ends_with(suffix) ? static_cast<int>(d.size()) : -1;
  }
  const std::string& p = e.prefix;
  if (!text.starts_with(p)) return -1;
  if (text.size() == p.size()) return static_cast<int>(p.size());
  char next = text[p.size()];
  bool has_path = p.find('/') != std::string::npos;
  if (next == '/' || (has_path && (next == ':' || next == '@'))) return static_cast<int>(p.size());
  return -1;
}

// Replaces the part of `ref` matched by `e`'s prefix with `location`.
absl::StatusOr<Reference> Rewrite(const RegistryEntry& e, std::string_view location, const Reference& ref) {
  if (location.empty()) return ref;
  std::string text = ref.ToString();
  size_t matched = e.wildcard() ? ref.domain().size() : e.prefix.size();
  std::string out = StrCat(location, text.substr(matched));
  auto r = Reference::Parse(out);
  if (!r.ok() || !r->has_domain()) {
    return absl::InvalidArgumentError(StrCat(e.origin, ": rewriting \"", text, "\" (prefix \"", e.prefix,
                                             "\") to location \"", location,
                                             "\" gives the invalid reference \"", out, "\""));
  }
  return r->Normalized();
}

bool ParseIpv4(std::string_view s, uint32_t* out) {
  std::vector<std::string_view> parts = Split(s, '.');
  if (parts.size() != 4) return false;
  uint32_t v = 0;
  for (std::string_view p : parts) {
    auto n = ParseUint64(p);
    if (!n || *n > 255 || p.size() > 3) return false;
    v = (v << 8) | static_cast<uint32_t>(*n);
  }
  *out = v;
  return true;
}

bool CidrContains(std::string_view cidr, std::string_view host) {
  auto parts = SplitOnce(cidr, '/');
  if (!parts) return false;
  auto bits = ParseUint64(parts->second);
  uint32_t net = 0;
  uint32_t ip = 0;
  if (!bits || *bits > 32 || !ParseIpv4(parts->first, &net) || !ParseIpv4(host, &ip)) return false;
  uint32_t mask = *bits == 0 ? 0 : ~uint32_t{0} << (32 - *bits);
  return (net & mask) == (ip & mask);
}

std::string HostOf(std::string_view domain) {
  if (!domain.empty() && domain.front() == '[') return std::string(domain.substr(0, domain.find(']') + 1));
  return std::string(domain.substr(0, domain.find(':')));
}

}  // namespace

absl::Status RegistriesConf::Merge(std::string_view text, const std::string& file,
                                   std::vector<std::string>* warnings) {
  toml::table doc;
  try {
    doc = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(StrCat(file, ":", e.source().begin.line, ":", e.source().begin.column,
                                             ": invalid TOML: ", e.description()));
  }
  TomlReader r{file, warnings};
  std::vector<RegistryEntry> regs;
  for (auto&& [k, node] : doc) {
    std::string_view key = k.str();
    if (key == "unqualified-search-registries") {
      ASSIGN_OR_RETURN(std::vector<std::string> list, r.Strings(node, key));
      for (const std::string& s : list) {
        if (!IsValidDomain(s)) return r.Error(node, key, StrCat("\"", s, "\" is not a host[:port]"));
      }
      search_ = std::move(list);
    } else if (key == "short-name-mode") {
      ASSIGN_OR_RETURN(std::string mode, r.String(node, key));
      if (mode != "" && mode != "enforcing" && mode != "permissive" && mode != "disabled") {
        return r.Error(node, key,
                       StrCat("invalid value \"", mode, "\" (want enforcing, permissive or disabled)"));
      }
      // cricket never prompts: every mode behaves like "disabled" for a daemon without a terminal,
      // except that enforcing with several search registries is ambiguous (see Resolve).
      short_name_mode_ = mode;
    } else if (key == "credential-helpers") {
      ASSIGN_OR_RETURN(std::vector<std::string> helpers, r.Strings(node, key));
      if (helpers != std::vector<std::string>{"containers-auth.json"}) {
        r.Warn(node, "credential-helpers other than containers-auth.json are not supported (ignored)");
      }
    } else if (key == "registry") {
      const toml::array* arr = node.as_array();
      if (arr == nullptr) return r.Error(node, key, "expected [[registry]] tables");
      for (const toml::node& t : *arr) {
        std::string name = StrCat("registry[", regs.size(), "]");
        if (!t.is_table()) return r.Error(t, name, "expected a table");
        ASSIGN_OR_RETURN(RegistryEntry e, ReadRegistry(r, *t.as_table(), name));
        for (const RegistryEntry& other : regs) {
          if (other.prefix == e.prefix) {
            return r.Error(t, name, StrCat("prefix \"", e.prefix, "\" is already defined at ", other.origin));
          }
        }
        regs.push_back(std::move(e));
      }
    } else if (key == "aliases") {
      const toml::table* t = node.as_table();
      if (t == nullptr) return r.Error(node, key, "expected a table");
      for (auto&& [ak, av] : *t) {
        std::string akey = StrCat("aliases.\"", ak.str(), "\"");
        ASSIGN_OR_RETURN(std::string value, r.String(av, akey));
        auto name = Reference::Parse(ak.str());
        if (!name.ok() || name->has_domain() || !name->tag().empty() || name->digest() ||
            ak.str() == "localhost") {
          return r.Error(av, akey, "an alias name must be a short name without registry, tag or digest");
        }
        if (value.empty()) {
          aliases_.erase(std::string(ak.str()));
          continue;
        }
        auto target = Reference::Parse(value);
        if (!target.ok() || !target->has_domain() || !target->tag().empty() || target->digest()) {
          return r.Error(
              av, akey, StrCat("\"", value, "\" must be a fully-qualified image name without tag or digest"));
        }
        aliases_[std::string(ak.str())] = value;
        alias_origins_[std::string(ak.str())] = r.Where(av);
      }
    } else if (key == "registries") {
      return r.Error(
          node, key,
          "the version 1 format ([registries.search], [registries.insecure], [registries.block]) is "
          "not supported; use unqualified-search-registries and [[registry]] tables");
    } else {
      r.Warn(node, StrCat("unknown key ", key, " (ignored)"));
    }
  }
  // [[registry]] tables replace earlier ones with the same prefix; new prefixes are added.
  for (RegistryEntry& e : regs) {
    auto it = std::find_if(registries_.begin(), registries_.end(),
                           [&](const RegistryEntry& o) { return o.prefix == e.prefix; });
    if (it != registries_.end()) {
      *it = std::move(e);
    } else {
      registries_.push_back(std::move(e));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RegistriesConf> RegistriesConf::Load(const std::string& main_file,
                                                    const std::string& drop_in_dir,
                                                    std::vector<std::string>* warnings) {
  RegistriesConf conf;
  auto merge_file = [&](const std::string& path) -> absl::Status {
    ASSIGN_OR_RETURN(std::string text, ReadFile(path, 4 << 20));
    return conf.Merge(text, path, warnings);
  };
  if (!main_file.empty() && PathExists(main_file)) RETURN_IF_ERROR(merge_file(main_file));
  if (!drop_in_dir.empty() && PathExists(drop_in_dir)) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(drop_in_dir));
    for (const std::string& name : names) {
      std::string path = JoinPath(drop_in_dir, name);
      struct stat st;
      if (!name.ends_with(".conf") || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      RETURN_IF_ERROR(merge_file(path));
    }
  }
  return conf;
}

const RegistryEntry* RegistriesConf::FindRegistry(const Reference& ref) const {
  std::string text = ref.ToString();
  const RegistryEntry* best = nullptr;
  int best_len = -1;
  for (const RegistryEntry& e : registries_) {
    int len = MatchLength(e, ref, text);
    // On equal length an exact prefix beats a wildcard one.
    if (len > best_len || (len == best_len && len >= 0 && best->wildcard() && !e.wildcard())) {
      best = &e;
      best_len = len;
    }
  }
  return best;
}

bool RegistriesConf::InsecureByCrioConfig(std::string_view location) const {
  size_t slash = location.find('/');
  std::string_view domain = location.substr(0, slash);
  for (const std::string& entry : insecure_registries_) {
    if (entry.empty()) continue;
    if (CidrContains(entry, HostOf(domain))) return true;
    if (location.starts_with(entry) && (location.size() == entry.size() || location[entry.size()] == '/')) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::vector<PullSource>> RegistriesConf::PullSources(const Reference& ref) const {
  std::vector<PullSource> out;
  const RegistryEntry* reg = FindRegistry(ref);
  if (reg == nullptr) {
    out.push_back({ref, InsecureByCrioConfig(ref.Name()), false});
    return out;
  }
  bool digested = ref.digest().has_value();
  for (const RegistryMirror& m : reg->mirrors) {
    bool use = reg->mirror_by_digest_only                          ? digested
               : m.pull_from_mirror == PullFromMirror::kDigestOnly ? digested
               : m.pull_from_mirror == PullFromMirror::kTagOnly    ? !digested
                                                                   : true;
    if (!use) continue;
    ASSIGN_OR_RETURN(Reference r, Rewrite(*reg, m.location, ref));
    out.push_back({r, m.insecure || InsecureByCrioConfig(r.Name()), true});
  }
  if (!reg->blocked) {
    ASSIGN_OR_RETURN(Reference r, Rewrite(*reg, reg->location, ref));
    out.push_back({r, reg->insecure || InsecureByCrioConfig(r.Name()), false});
  } else if (out.empty()) {
    return absl::PermissionDeniedError(StrCat("registry \"", reg->prefix, "\" is blocked (", reg->origin,
                                              "), so \"", ref.ToString(), "\" cannot be pulled"));
  }
  return out;
}

absl::StatusOr<std::vector<PullCandidate>> RegistriesConf::Resolve(std::string_view image) const {
  ASSIGN_OR_RETURN(Reference parsed, Reference::Parse(image));
  if (!parsed.has_domain()) RETURN_IF_ERROR(Reference::ParseNormalized(image).status());
  std::vector<std::pair<Reference, std::string>> names;
  if (parsed.has_domain()) {
    names.emplace_back(parsed.Normalized(), "fully-qualified");
  } else if (auto alias = aliases_.find(parsed.path()); alias != aliases_.end()) {
    ASSIGN_OR_RETURN(Reference target, Reference::Parse(alias->second));
    if (!parsed.tag().empty()) target = target.WithTag(parsed.tag());
    if (parsed.digest()) target = target.WithDigest(*parsed.digest());
    names.emplace_back(target.Normalized(), StrCat("alias (", alias_origins_.at(alias->first), ")"));
  } else if (!search_.empty()) {
    if (short_name_mode_ == "enforcing" && search_.size() > 1) {
      return absl::InvalidArgumentError(
          StrCat("short name \"", image, "\" is ambiguous: short-name-mode is enforcing and there are ",
                 search_.size(), " unqualified-search-registries; use a fully-qualified name or an alias"));
    }
    for (const std::string& registry : search_) {
      ASSIGN_OR_RETURN(Reference r, Reference::ParseNormalized(StrCat(registry, "/", image)));
      names.emplace_back(std::move(r), "unqualified-search-registries");
    }
  } else {
    ASSIGN_OR_RETURN(Reference r, Reference::ParseNormalized(image));
    names.emplace_back(std::move(r), "docker.io default");
  }
  std::vector<PullCandidate> out;
  absl::Status last_error;
  for (auto& [name, how] : names) {
    auto sources = PullSources(name);
    if (!sources.ok()) {
      last_error = sources.status();
      continue;
    }
    out.push_back({std::move(name), *std::move(sources), std::move(how)});
  }
  if (out.empty()) return last_error;
  return out;
}

}  // namespace cricket::image
