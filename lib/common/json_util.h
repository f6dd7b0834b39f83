// The one parse boundary for JSON: nlohmann::json exceptions become InvalidArgument errors naming what
// was parsed and where.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cricket {

// Parses `text`; `what` names the source in errors ("config.json", "manifest sha256:…").
absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, std::string_view what);

// Reads and parses a JSON file.
absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

}  // namespace cricket
