// registries.conf version 2 (containers-registries.conf(5), containers-registries.conf.d(5)): search
// registries for short names, short-name aliases, and per-prefix [[registry]] tables with location
// rewriting, mirrors, insecure and blocked flags. Plus cricket's [crio.image] insecure_registries.
//
// Resolution turns what a user asked for ("busybox", "quay.io/x/y:1") into candidate images, each with
// its ordered pull sources (mirrors first, then the primary location unless blocked).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/image/reference.h"

namespace cricket::image {

enum class PullFromMirror { kAll, kDigestOnly, kTagOnly };

struct RegistryMirror {
  std::string location;
  bool insecure = false;
  PullFromMirror pull_from_mirror = PullFromMirror::kAll;
};

// One [[registry]] table.
struct RegistryEntry {
  std::string prefix;    // "host[:port][/path][:tag|@digest]" or "*.domain"; defaults to location
  std::string location;  // empty only with a wildcard prefix (no rewriting then)
  bool insecure = false;
  bool blocked = false;
  bool mirror_by_digest_only = false;
  std::vector<RegistryMirror> mirrors;
  std::string origin;  // "file:line" of the table, for messages

  bool wildcard() const { return prefix.starts_with("*."); }
};

// Where to fetch one image from.
struct PullSource {
  // The reference on the wire: domain() is the registry to contact, path() the repository there, and
  // the tag or digest to ask for.
  Reference reference;
  bool insecure = false;  // plain HTTP and unverified TLS allowed
  bool mirror = false;
};

// One image the user's name may stand for, with where to fetch it from.
struct PullCandidate {
  // The logical, fully-qualified, normalised name: what RepoTags/RepoDigests are made of.
  Reference name;
  std::vector<PullSource> sources;
  // How the name was arrived at: "fully-qualified", "alias (file:line)", "unqualified-search-registries",
  // "docker.io default".
  std::string how;
};

class RegistriesConf {
 public:
  RegistriesConf() = default;

  // Reads `main_file`, then `drop_in_dir`/*.conf in lexical order; either may be absent (empty path or
  // missing file/directory). Later files override: unqualified-search-registries and short-name-mode
  // are replaced when set, [[registry]] tables replace earlier ones with the same prefix, aliases are
  // merged key by key (an empty value erases). Errors name the file, line and key; unknown keys become
  // warnings ("file:line: message").
  static absl::StatusOr<RegistriesConf> Load(const std::string& main_file, const std::string& drop_in_dir,
                                             std::vector<std::string>* warnings = nullptr);

  // Merges one file's TOML `text` (named `file` in messages) over the current settings.
  absl::Status Merge(std::string_view text, const std::string& file, std::vector<std::string>* warnings);

  // [crio.image] insecure_registries: entries are "host[:port]" prefixes of a location
  // ("host[:port]/path" also works) or IPv4 CIDRs ("10.0.0.0/8") matching registries addressed by IP.
  void set_insecure_registries(std::vector<std::string> registries) {
    insecure_registries_ = std::move(registries);
  }

  // Resolves what a user asked for. A fully-qualified name gives one candidate; a short name gives its
  // alias if one is configured, else one candidate per unqualified-search registry, else (no search
  // registries configured) docker.io like Docker does. Blocked candidates without mirrors are dropped;
  // an error when nothing remains.
  absl::StatusOr<std::vector<PullCandidate>> Resolve(std::string_view image) const;

  // The pull sources of a fully-qualified, normalised reference: the matching [[registry]]'s mirrors
  // (as pull-from-mirror / mirror-by-digest-only allow), then its rewritten location unless blocked.
  // PermissionDenied when the registry is blocked and no mirror applies.
  absl::StatusOr<std::vector<PullSource>> PullSources(const Reference& ref) const;

  // The [[registry]] whose prefix is the longest match for `ref` (a fully-qualified reference), or null.
  const RegistryEntry* FindRegistry(const Reference& ref) const;

  // Whether [crio.image] insecure_registries covers `location` ("host[:port][/path]").
  bool InsecureByCrioConfig(std::string_view location) const;

  const std::vector<std::string>& unqualified_search_registries() const { return search_; }
  const std::vector<RegistryEntry>& registries() const { return registries_; }
  const std::map<std::string, std::string>& aliases() const { return aliases_; }
  const std::string& short_name_mode() const { return short_name_mode_; }

 private:
  std::vector<std::string> search_;
  std::vector<RegistryEntry> registries_;
  std::map<std::string, std::string> aliases_;
  std::map<std::string, std::string> alias_origins_;
  std::string short_name_mode_;
  std::vector<std::string> insecure_registries_;
};

}  // namespace cricket::image
