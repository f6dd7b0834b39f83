#include "cni/result.h"

#include <algorithm>

#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::cni {
namespace {

using Json = nlohmann::json;

absl::Status Bad(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(StrCat("CNI result: ", field, " ", why));
}

absl::Status GetString(const Json& obj, const char* key, std::string_view field, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) return Bad(StrCat(field, ".", key), "is not a string");
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetInt(const Json& obj, const char* key, std::string_view field, int* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer()) return Bad(StrCat(field, ".", key), "is not an integer");
  *out = it->get<int>();
  return absl::OkStatus();
}

absl::Status GetStrings(const Json& obj, const char* key, std::string_view field,
                        std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return Bad(StrCat(field, ".", key), "is not an array");
  for (const Json& v : *it) {
    if (!v.is_string()) return Bad(StrCat(field, ".", key), "holds a non-string");
    out->push_back(v.get<std::string>());
  }
  return absl::OkStatus();
}

// Iterates the objects of array `key`, calling fn(element, "key[i]").
template <class Fn>
absl::Status ForEachObject(const Json& obj, const char* key, Fn fn) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return Bad(key, "is not an array");
  for (size_t i = 0; i < it->size(); ++i) {
    std::string field = StrCat(key, "[", i, "]");
    if (!(*it)[i].is_object()) return Bad(field, "is not an object");
    RETURN_IF_ERROR(fn((*it)[i], field));
  }
  return absl::OkStatus();
}

absl::StatusOr<Route> ParseRoute(const Json& r, std::string_view field) {
  Route route;
  RETURN_IF_ERROR(GetString(r, "dst", field, &route.dst));
  if (route.dst.empty()) return Bad(StrCat(field, ".dst"), "is missing");
  RETURN_IF_ERROR(GetString(r, "gw", field, &route.gw));
  RETURN_IF_ERROR(GetInt(r, "mtu", field, &route.mtu));
  RETURN_IF_ERROR(GetInt(r, "advmss", field, &route.advmss));
  RETURN_IF_ERROR(GetInt(r, "priority", field, &route.priority));
  RETURN_IF_ERROR(GetInt(r, "table", field, &route.table));
  if (auto it = r.find("scope"); it != r.end() && !it->is_null()) {
    route.scope = it->is_string() ? it->get<std::string>() : it->dump();
  }
  return route;
}

absl::Status ParseDns(const Json& doc, Dns* dns) {
  auto it = doc.find("dns");
  if (it == doc.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) return Bad("dns", "is not an object");
  RETURN_IF_ERROR(GetStrings(*it, "nameservers", "dns", &dns->nameservers));
  RETURN_IF_ERROR(GetString(*it, "domain", "dns", &dns->domain));
  RETURN_IF_ERROR(GetStrings(*it, "search", "dns", &dns->search));
  RETURN_IF_ERROR(GetStrings(*it, "options", "dns", &dns->options));
  return absl::OkStatus();
}

// 0.1.0/0.2.0: {"ip4": {"ip", "gateway", "routes"}, "ip6": {...}, "dns"}.
absl::Status ParseLegacy(const Json& doc, Result* result) {
  for (const char* key : {"ip4", "ip6"}) {
    auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) continue;
    if (!it->is_object()) return Bad(key, "is not an object");
    IpConfig ip;
    RETURN_IF_ERROR(GetString(*it, "ip", key, &ip.address));
    if (ip.address.empty()) return Bad(StrCat(key, ".ip"), "is missing");
    RETURN_IF_ERROR(GetString(*it, "gateway", key, &ip.gateway));
    result->ips.push_back(ip);
    RETURN_IF_ERROR(
        ForEachObject(*it, "routes", [&](const Json& r, const std::string& field) -> absl::Status {
          ASSIGN_OR_RETURN(Route route, ParseRoute(r, StrCat(key, ".", field)));
          result->routes.push_back(route);
          return absl::OkStatus();
        }));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Result> ParseResult(const Json& doc) {
  if (!doc.is_object()) return Bad("document", "is not a JSON object");
  Result result;
  result.raw = doc;
  RETURN_IF_ERROR(GetString(doc, "cniVersion", "result", &result.cni_version));
  RETURN_IF_ERROR(ParseDns(doc, &result.dns));
  if (doc.contains("ip4") || doc.contains("ip6")) {
    RETURN_IF_ERROR(ParseLegacy(doc, &result));
    return result;
  }
  RETURN_IF_ERROR(
      ForEachObject(doc, "interfaces", [&](const Json& i, const std::string& field) -> absl::Status {
        Interface iface;
        RETURN_IF_ERROR(GetString(i, "name", field, &iface.name));
        RETURN_IF_ERROR(GetString(i, "mac", field, &iface.mac));
        RETURN_IF_ERROR(GetInt(i, "mtu", field, &iface.mtu));
        RETURN_IF_ERROR(GetString(i, "sandbox", field, &iface.sandbox));
        result.interfaces.push_back(iface);
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(ForEachObject(doc, "ips", [&](const Json& i, const std::string& field) -> absl::Status {
    IpConfig ip;
    RETURN_IF_ERROR(GetString(i, "address", field, &ip.address));
    if (ip.address.empty() || ip.address.find('/') == std::string::npos) {
      return Bad(StrCat(field, ".address"), "must be an address in CIDR form");
    }
    RETURN_IF_ERROR(GetString(i, "gateway", field, &ip.gateway));
    RETURN_IF_ERROR(GetInt(i, "interface", field, &ip.interface));
    if (ip.interface >= static_cast<int>(result.interfaces.size())) {
      return Bad(StrCat(field, ".interface"),
                 StrCat("refers to interface ", ip.interface, " of ", result.interfaces.size()));
    }
    result.ips.push_back(ip);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(ForEachObject(doc, "routes", [&](const Json& r, const std::string& field) -> absl::Status {
    ASSIGN_OR_RETURN(Route route, ParseRoute(r, field));
    result.routes.push_back(route);
    return absl::OkStatus();
  }));
  return result;
}

std::vector<std::string> PodIps(const Result& result, const std::string& ifname) {
  std::vector<std::string> v4, v6;
  for (const IpConfig& ip : result.ips) {
    if (ip.interface >= 0) {
      const Interface& iface = result.interfaces[ip.interface];
      if (iface.sandbox.empty() || iface.name != ifname) continue;
    }
    std::string addr = ip.Ip();
    auto& list = ip.IsV6() ? v6 : v4;
    if (std::find(list.begin(), list.end(), addr) == list.end()) list.push_back(addr);
  }
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

}  // namespace cricket::cni
