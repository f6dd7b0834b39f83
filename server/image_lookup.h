// Finding a stored image by what a CRI client sends: an image id (full or a unique prefix of at least 3
// hex digits), a name as stored ("docker.io/library/busybox:latest", "…@sha256:…"), or a name to
// normalise ("busybox", "busybox@sha256:…"). With registries.conf, a short name is also looked up under
// each name it may stand for (aliases, unqualified-search-registries), in the order a pull tries them,
// so that what a pull of "busybox" stored is found by "busybox".
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "lib/image/registries_conf.h"
#include "lib/storage/store.h"

namespace cricket::server {

// NotFound (saying the image is not present) when nothing matches; InvalidArgument for an empty name or
// an ambiguous id prefix.
absl::StatusOr<storage::ImageInfo> LookupImage(storage::Store& store, const std::string& image,
                                               const image::RegistriesConf* registries = nullptr);

}  // namespace cricket::server
