// A CNI plugin for tests. Its behaviour comes from its own network configuration object:
//   "log":      file to append one JSON line per invocation to ({command, env..., config, start, end})
//   "behavior": "ok" (default), "fail" (error object + stderr, exit 1), "hang" (sleeps forever),
//               "faildel" (DEL fails), "failcheck" (CHECK fails), "garbage" (ADD prints non-JSON)
//   "ip":       ADD adds this CIDR address (on a new interface named CNI_IFNAME in CNI_NETNS) to the
//               prevResult it received, or to an empty result
//   "sleep_ms": ADD takes this long (to observe serialisation)
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

namespace {

using Json = nlohmann::json;

std::string Env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

long long NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void Log(const Json& conf, Json line) {
  if (!conf.contains("log")) return;
  std::string path = conf["log"].get<std::string>();
  std::string text = line.dump() + "\n";
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!write(fd, text.data(), text.size());
  close(fd);
}

int Fail(const Json& conf, const std::string& msg) {
  std::cout << Json{{"cniVersion", conf.value("cniVersion", "")},
                    {"code", 11},
                    {"msg", msg},
                    {"details", "fake details"}}
                   .dump();
  std::cerr << "fake stderr line\n";
  return 1;
}

}  // namespace

int main() {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  Json conf = Json::parse(input, nullptr, false);
  if (conf.is_discarded()) {
    std::cout << R"({"code":6,"msg":"cannot parse config"})";
    return 1;
  }
  std::string command = Env("CNI_COMMAND");
  std::string behavior = conf.value("behavior", "ok");
  Json line = {{"command", command},
               {"containerid", Env("CNI_CONTAINERID")},
               {"netns", Env("CNI_NETNS")},
               {"ifname", Env("CNI_IFNAME")},
               {"args", Env("CNI_ARGS")},
               {"cni_path", Env("CNI_PATH")},
               {"path_set", !Env("PATH").empty()},
               {"config", conf},
               {"start", NowNs()}};
  int rc = 0;
  std::string out;
  if (command == "VERSION") {
    out = R"({"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]})";
  } else if (command == "ADD") {
    if (behavior == "hang") {
      for (;;) pause();
    }
    if (conf.contains("sleep_ms")) usleep(conf["sleep_ms"].get<int>() * 1000);
    if (behavior == "fail") {
      rc = Fail(conf, "fake failure");
    } else if (behavior == "garbage") {
      out = "this is not json";
    } else {
      Json result = conf.contains("prevResult") ? conf["prevResult"]
                                                : Json{{"cniVersion", conf.value("cniVersion", "")},
                                                       {"interfaces", Json::array()},
                                                       {"ips", Json::array()}};
      if (conf.contains("ip")) {
        result["interfaces"].push_back({{"name", Env("CNI_IFNAME")}, {"sandbox", Env("CNI_NETNS")}});
        result["ips"].push_back(
            {{"address", conf["ip"]}, {"interface", static_cast<int>(result["interfaces"].size()) - 1}});
      }
      out = result.dump();
    }
  } else if (command == "DEL" && behavior == "faildel") {
    rc = Fail(conf, "fake DEL failure");
  } else if (command == "CHECK" && behavior == "failcheck") {
    rc = Fail(conf, "fake CHECK failure");
  }
  line["end"] = NowNs();
  Log(conf, line);
  if (!out.empty()) std::cout << out;
  return rc;
}
