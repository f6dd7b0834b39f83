// Image references in the Docker grammar (distribution/reference):
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path
//   domain    := host [ ":" port ]          (a DNS name, an IPv4 address or "[" IPv6 "]")
//   path      := component ( "/" component )*, component := [a-z0-9]+ ( separator [a-z0-9]+ )*,
//                separator := "." | "_" | "__" | "-"+
//   tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
// The first "/"-separated part of a name is its domain only if it contains "." or ":", is "localhost",
// or has an uppercase letter; otherwise the whole name is a path ("busybox", "library/busybox").
// Normalisation follows Docker: no domain → docker.io, a one-component docker.io path gets "library/",
// and a reference with neither tag nor digest gets ":latest".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/common/digest.h"

namespace cricket::image {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";

class Reference {
 public:
  // Parses `text` as written, without normalisation: domain() is empty for "busybox". Errors name the
  // reference and what is wrong with it (uppercase repository, bad tag, bad digest, ...).
  static absl::StatusOr<Reference> Parse(std::string_view text);
  // Parses and normalises (busybox → docker.io/library/busybox:latest). Also refuses a bare 64-hex
  // name, which would be ambiguous with an image id.
  static absl::StatusOr<Reference> ParseNormalized(std::string_view text);

  const std::string& domain() const { return domain_; }
  // The repository path within the registry ("library/busybox").
  const std::string& path() const { return path_; }
  // Empty when the reference has no tag.
  const std::string& tag() const { return tag_; }
  const std::optional<Digest>& digest() const { return digest_; }
  bool has_domain() const { return !domain_.empty(); }

  // "domain/path" (or just "path" without a domain).
  std::string Name() const;
  // "name[:tag][@digest]".
  std::string ToString() const;
  // Docker's short form: docker.io/library/busybox:latest → busybox:latest; docker.io/x/y → x/y.
  std::string Familiar() const;
  // What the registry API addresses: the digest when there is one, else the tag ("latest" if none).
  std::string TagOrDigest() const;

  // A normalised copy (see the file comment).
  Reference Normalized() const;
  Reference WithTag(std::string tag) const;
  Reference WithDigest(const Digest& digest) const;
  Reference NameOnly() const;

  bool operator==(const Reference& o) const = default;

 private:
  Reference() = default;
  std::string domain_;
  std::string path_;
  std::string tag_;
  std::optional<Digest> digest_;
};

// Validators for the grammar pieces, exposed for registries.conf and tests.
bool IsValidDomain(std::string_view domain);
bool IsValidPath(std::string_view path);
bool IsValidTag(std::string_view tag);

}  // namespace cricket::image
