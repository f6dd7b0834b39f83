#include "server/image_lookup.h"

#include <vector>

#include "lib/common/strings.h"
#include "lib/image/reference.h"

namespace cricket::server {

namespace {

// The stored form of a reference: "name@digest" when it has a digest (a tag beside it is not recorded
// by pulls), else "name:tag".
std::string StoredName(const image::Reference& ref) {
  if (ref.digest()) return ref.NameOnly().WithDigest(*ref.digest()).ToString();
  return ref.ToString();
}

// The names `image` may be stored under, most likely first, without duplicates.
std::vector<std::string> CandidateNames(const std::string& image, const image::RegistriesConf* registries) {
  std::vector<std::string> names;
  auto add = [&names](std::string n) {
    for (const std::string& have : names) {
      if (have == n) return;
    }
    names.push_back(std::move(n));
  };
  if (auto ref = image::Reference::ParseNormalized(image); ref.ok()) add(StoredName(*ref));
  if (registries != nullptr) {
    if (auto candidates = registries->Resolve(image); candidates.ok()) {
      for (const image::PullCandidate& c : *candidates) add(StoredName(c.name));
    }
  }
  return names;
}

}  // namespace

absl::StatusOr<storage::ImageInfo> LookupImage(storage::Store& store, const std::string& image,
                                               const image::RegistriesConf* registries) {
  if (image.empty()) return absl::InvalidArgumentError("image name is empty");
  auto found = store.FindImage(image);
  if (found.ok() || !absl::IsNotFound(found.status())) return found;
  for (const std::string& name : CandidateNames(image, registries)) {
    if (name == image) continue;
    found = store.FindImage(name);
    if (found.ok() || !absl::IsNotFound(found.status())) return found;
  }
  return absl::NotFoundError(StrCat("image \"", image, "\" is not present"));
}

}  // namespace cricket::server
