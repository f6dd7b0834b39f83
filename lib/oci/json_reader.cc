#include "lib/oci/json_reader.h"

#include <cmath>

namespace cricket::oci::json {

std::string FieldPath(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return StrCat(path, ".", key);
}

std::string IndexPath(std::string_view path, size_t index) { return StrCat(path, "[", index, "]"); }

std::string KeyPath(std::string_view path, std::string_view key) {
  return StrCat(path, "[", Json(std::string(key)).dump(), "]");
}

absl::Status PathError(std::string_view path, std::string_view message) {
  if (path.empty()) return absl::InvalidArgumentError(std::string(message));
  return absl::InvalidArgumentError(StrCat(path, ": ", message));
}

namespace {

std::string_view JsonTypeName(const Json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number";
  return v.type_name();
}

}  // namespace

absl::Status TypeError(std::string_view path, std::string_view expected, const Json& got) {
  return PathError(path, StrCat("expected ", expected, ", got ", JsonTypeName(got)));
}

absl::Status Read(const Json& value, std::string_view path, std::string* out) {
  if (!value.is_string()) return TypeError(path, "string", value);
  *out = value.get<std::string>();
  return absl::OkStatus();
}

absl::Status Read(const Json& value, std::string_view path, bool* out) {
  if (!value.is_boolean()) return TypeError(path, "boolean", value);
  *out = value.get<bool>();
  return absl::OkStatus();
}

absl::Status ReadInt64(const Json& value, std::string_view path, int64_t min, int64_t max, int64_t* out) {
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) {
      return PathError(path, StrCat("value ", u, " out of range [", min, ", ", max, "]"));
    }
    *out = static_cast<int64_t>(u);
    return absl::OkStatus();
  }
  if (!value.is_number_integer()) return TypeError(path, "integer", value);
  int64_t v = value.get<int64_t>();
  if (v < min || v > max) return PathError(path, StrCat("value ", v, " out of range [", min, ", ", max, "]"));
  *out = v;
  return absl::OkStatus();
}

absl::Status ReadUint64(const Json& value, std::string_view path, uint64_t max, uint64_t* out) {
  if (!value.is_number_integer()) return TypeError(path, "unsigned integer", value);
  // Parsed text stores non-negative numbers as unsigned; values built in code may be signed.
  if (!value.is_number_unsigned() && value.get<int64_t>() < 0) {
    return PathError(path, StrCat("value ", value.get<int64_t>(), " out of range [0, ", max, "]"));
  }
  uint64_t v =
      value.is_number_unsigned() ? value.get<uint64_t>() : static_cast<uint64_t>(value.get<int64_t>());
  if (v > max) return PathError(path, StrCat("value ", v, " out of range [0, ", max, "]"));
  *out = v;
  return absl::OkStatus();
}

absl::StatusOr<Object> Object::Of(const Json& value, std::string path) {
  if (!value.is_object()) return TypeError(path, "object", value);
  return Object(&value, std::move(path));
}

const Json* Object::Find(std::string_view key) const {
  auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status Object::Missing(std::string_view key) const {
  return PathError(PathOf(key), "required property missing");
}

}  // namespace cricket::oci::json
