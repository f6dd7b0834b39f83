// Reading typed values out of nlohmann::json with errors that name the JSON path of the bad value
// ("linux.resources.memory.limit: expected integer, got string"). Used by lib/oci's parsers; nothing
// here throws.
//
// Conventions: a property whose value is JSON null counts as absent (as in Go's encoding/json, which
// produced most config.json files in the wild); unknown properties are not looked at.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::oci::json {

using Json = nlohmann::json;

// "a.b" from ("a", "b"); "b" when `path` is empty.
std::string FieldPath(std::string_view path, std::string_view key);
// "a[3]".
std::string IndexPath(std::string_view path, size_t index);
// `a["key"]` (map entries, whose keys may contain dots).
std::string KeyPath(std::string_view path, std::string_view key);

// "<path>: <message>" as InvalidArgument (just the message when `path` is empty).
absl::Status PathError(std::string_view path, std::string_view message);
// "<path>: expected <expected>, got <json type>".
absl::Status TypeError(std::string_view path, std::string_view expected, const Json& got);

// Scalar readers; `path` names `value` in errors.
absl::Status Read(const Json& value, std::string_view path, std::string* out);
absl::Status Read(const Json& value, std::string_view path, bool* out);
// Whole numbers only (1.0 and 1e3 are rejected), range-checked against T.
absl::Status ReadInt64(const Json& value, std::string_view path, int64_t min, int64_t max, int64_t* out);
absl::Status ReadUint64(const Json& value, std::string_view path, uint64_t max, uint64_t* out);

template <std::integral T>
requires(!std::same_as<T, bool>) absl::Status Read(const Json& value, std::string_view path, T* out) {
  if constexpr (std::is_signed_v<T>) {
    int64_t v = 0;
    RETURN_IF_ERROR(ReadInt64(value, path, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), &v));
    *out = static_cast<T>(v);
  } else {
    uint64_t v = 0;
    RETURN_IF_ERROR(ReadUint64(value, path, std::numeric_limits<T>::max(), &v));
    *out = static_cast<T>(v);
  }
  return absl::OkStatus();
}

// A JSON object being read: each accessor reads one property, naming "<path>.<key>" in errors.
class Object {
 public:
  // Fails with "<path>: expected object, got ..." unless `value` is an object.
  static absl::StatusOr<Object> Of(const Json& value, std::string path);

  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view key) const { return FieldPath(path_, key); }
  // The property's value, or nullptr when absent or null.
  const Json* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  // Scalars: Opt leaves *out untouched when absent; Req fails "required property missing".
  template <class T>
  absl::Status Opt(std::string_view key, T* out) const {
    const Json* v = Find(key);
    return v == nullptr ? absl::OkStatus() : Read(*v, PathOf(key), out);
  }
  template <class T>
  absl::Status Opt(std::string_view key, std::optional<T>* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    T tmp{};
    RETURN_IF_ERROR(Read(*v, PathOf(key), &tmp));
    *out = std::move(tmp);
    return absl::OkStatus();
  }
  template <class T>
  absl::Status Req(std::string_view key, T* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return Missing(key);
    return Read(*v, PathOf(key), out);
  }

  // An array of scalars.
  template <class T>
  absl::Status OptArray(std::string_view key, std::vector<T>* out) const {
    return OptArray(key, out, [](const Json& v, const std::string& p, T* o) { return Read(v, p, o); });
  }
  // An array whose elements are read by `read(const Json&, const std::string& path, T*)`.
  template <class T, class F>
  absl::Status OptArray(std::string_view key, std::vector<T>* out, F read) const {
    const Json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    std::string path = PathOf(key);
    if (!v->is_array()) return TypeError(path, "array", *v);
    std::vector<T> result(v->size());
    for (size_t i = 0; i < v->size(); ++i) RETURN_IF_ERROR(read((*v)[i], IndexPath(path, i), &result[i]));
    *out = std::move(result);
    return absl::OkStatus();
  }

  // An object used as a string → T map.
  template <class T>
  absl::Status OptMap(std::string_view key, std::map<std::string, T>* out) const {
    return OptMap(key, out, [](const Json& v, const std::string& p, T* o) { return Read(v, p, o); });
  }
  template <class T, class F>
  absl::Status OptMap(std::string_view key, std::map<std::string, T>* out, F read) const {
    const Json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    std::string path = PathOf(key);
    if (!v->is_object()) return TypeError(path, "object", *v);
    std::map<std::string, T> result;
    for (const auto& [k, item] : v->items()) RETURN_IF_ERROR(read(item, KeyPath(path, k), &result[k]));
    *out = std::move(result);
    return absl::OkStatus();
  }

  // A nested object read by `read(const Json&, const std::string& path, T*)`.
  template <class T, class F>
  absl::Status OptObject(std::string_view key, std::optional<T>* out, F read) const {
    const Json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    T tmp{};
    RETURN_IF_ERROR(read(*v, PathOf(key), &tmp));
    *out = std::move(tmp);
    return absl::OkStatus();
  }

  absl::Status Missing(std::string_view key) const;

 private:
  Object(const Json* value, std::string path) : value_(value), path_(std::move(path)) {}
  const Json* value_;
  std::string path_;
};

// Writers for serialization: absent optionals and empty containers are left out, mirroring Go's
// `omitempty` so that output matches what other runtimes and tools write.
template <class T>
void PutOpt(Json& obj, const char* key, const std::optional<T>& v) {
  if (v.has_value()) obj[key] = *v;
}
inline void PutNonEmpty(Json& obj, const char* key, const std::string& v) {
  if (!v.empty()) obj[key] = v;
}
template <class T>
void PutNonEmpty(Json& obj, const char* key, const std::vector<T>& v) {
  if (!v.empty()) obj[key] = v;
}
template <class T>
void PutNonEmpty(Json& obj, const char* key, const std::map<std::string, T>& v) {
  if (!v.empty()) obj[key] = v;
}
inline void PutTrue(Json& obj, const char* key, bool v) {
  if (v) obj[key] = true;
}
// A vector of structs via `to_json(const T&) -> Json`.
template <class T, class F>
void PutArray(Json& obj, const char* key, const std::vector<T>& v, F to_json) {
  if (v.empty()) return;
  Json arr = Json::array();
  for (const T& item : v) arr.push_back(to_json(item));
  obj[key] = std::move(arr);
}

}  // namespace cricket::oci::json
