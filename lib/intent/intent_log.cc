#include "lib/intent/intent_log.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>

#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::intent {
namespace {

constexpr char kSuffix[] = ".json";
constexpr char kDamagedPrefix[] = "damaged-";
constexpr size_t kMaxRecordBytes = 1 << 20;

absl::Status ValidateWord(std::string_view what, std::string_view w) {
  bool ok = !w.empty() && w.size() <= 128;
  for (char c : w) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) ok = false;
  }
  if (!ok) return absl::InvalidArgumentError(StrCat("intent ", what, " \"", w, "\" is not a path-safe word"));
  return absl::OkStatus();
}

}  // namespace

std::string RecordToJson(const Record& r) {
  nlohmann::json j = {{"kind", r.kind},
                      {"object", r.object},
                      {"started", r.started},
                      {"owner_pid", r.owner_pid},
                      {"data", r.data}};
  return j.dump();
}

absl::StatusOr<Record> RecordFromJson(std::string_view text, const std::string& file) {
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(text, file));
  Record r;
  r.file = file;
  try {
    if (!j.is_object()) return absl::DataLossError(StrCat(file, ": not a JSON object"));
    r.kind = j.at("kind").get<std::string>();
    r.object = j.at("object").get<std::string>();
    r.started = j.at("started").get<int64_t>();
    r.owner_pid = j.value("owner_pid", 0);
    r.data = j.at("data");
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(StrCat(file, ": ", e.what()));
  }
  if (r.kind.empty() || r.object.empty() || !r.data.is_object()) {
    return absl::DataLossError(StrCat(file, ": kind, object and data are required"));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------

Intent::Intent(Intent&& o) noexcept : file_(std::exchange(o.file_, "")), record_(std::move(o.record_)) {}

Intent::~Intent() {
  if (absl::Status st = Done(); !st.ok()) {
    log::Warn("intent", "cannot remove intent record", {{"file", record_.file}, {"error", st}});
  }
}

absl::Status Intent::Note(std::string_view key, nlohmann::json value) {
  if (file_.empty()) return absl::FailedPreconditionError("note on a resolved intent");
  record_.data[std::string(key)] = std::move(value);
  return WriteFileAtomic(file_, RecordToJson(record_), 0600);
}

absl::Status Intent::Done() {
  if (file_.empty()) return absl::OkStatus();
  std::string file = std::exchange(file_, "");
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) return ErrnoError("remove intent record", file);
  return absl::OkStatus();
}

absl::StatusOr<Log> Log::Open(std::string dir) {
  RETURN_IF_ERROR(MkdirAll(dir, 0700));
  return Log(std::move(dir));
}

absl::StatusOr<Intent> Log::Begin(std::string_view kind, std::string_view object, nlohmann::json data) {
  RETURN_IF_ERROR(ValidateWord("kind", kind));
  RETURN_IF_ERROR(ValidateWord("object", object));
  if (!data.is_object()) return absl::InvalidArgumentError("intent data must be a JSON object");
  Record r;
  r.kind = std::string(kind);
  r.object = std::string(object);
  r.started = RealtimeNow();
  r.owner_pid = static_cast<int>(::getpid());
  r.data = std::move(data);
  // Fixed-width numbers first: a directory listing (sorted) is the order the intents were written in.
  char prefix[48];
  std::snprintf(prefix, sizeof(prefix), "%020lld-%08llu-", static_cast<long long>(r.started),
                static_cast<unsigned long long>(seq_.fetch_add(1) % 100000000));
  r.file = JoinPath(dir_, StrCat(prefix, kind, "-", object, kSuffix));
  RETURN_IF_ERROR(WriteFileAtomic(r.file, RecordToJson(r), 0600));
  std::string file = r.file;
  return Intent(std::move(file), std::move(r));
}

absl::StatusOr<std::vector<Record>> Log::Pending(std::vector<std::string>* problems) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir_));
  std::vector<Record> out;
  for (const std::string& name : names) {
    // The temporary file of a write that was killed: the intent it was to become was never written,
    // so nothing of its operation was done.
    if (name.starts_with(".") && name.find(".tmp-") != std::string::npos) {
      (void)RemoveAll(JoinPath(dir_, name));
      continue;
    }
    if (name.starts_with(".") || name.starts_with(kDamagedPrefix) || !name.ends_with(kSuffix)) continue;
    std::string file = JoinPath(dir_, name);
    absl::StatusOr<Record> r = absl::UnknownError("");
    if (auto text = ReadFile(file, kMaxRecordBytes); text.ok()) {
      r = RecordFromJson(*text, file);
    } else {
      r = text.status();
    }
    if (r.ok()) {
      out.push_back(*std::move(r));
      continue;
    }
    std::string aside = JoinPath(dir_, StrCat(kDamagedPrefix, name));
    if (::rename(file.c_str(), aside.c_str()) != 0) return ErrnoError("set aside damaged intent", file);
    if (problems != nullptr) {
      problems->push_back(
          StrCat("intent record ", file, " is damaged (", r.status().message(), "); kept as ", aside));
    }
  }
  return out;
}

absl::Status Log::Resolve(const Record& record) {
  if (::unlink(record.file.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("remove intent record", record.file);
  }
  return absl::OkStatus();
}

}  // namespace cricket::intent
