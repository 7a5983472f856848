#include "engine/run_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>

#include "json/json_writer.h"
#include "simdjson.h"
#include "spec/components.h"
#include "util/file.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {

std::string RunLogPath(const JobSpec& spec) { return StrCat(JobFilesDir(spec), "/", kRunLogName); }

absl::Status AppendRunLog(const std::string& path, std::string_view what, std::string_view run_id,
                          absl::Time at, std::string_view outcome, uint64_t records) {
  std::string line;
  JsonObjectWriter w(&line);
  w.Str(what == "start" ? "started"
        : what == "end" ? "ended"
                        : "at",
        FormatRfc3339(at))
      .Str("run_id", run_id);
  if (what == "start") {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    w.Str("host", host).Int("pid", getpid());
  } else if (what == "end") {
    w.Str("outcome", outcome).Uint("records", records);
  } else {
    w.Uint("records", records);
  }
  w.Close();
  line.push_back('\n');
  if (absl::Status s = MakeDirectories(DirName(path)); !s.ok()) return s;
  const ScopedFd f{open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)};
  if (f.fd < 0) return ErrnoError(errno, "open", path);
  if (write(f.fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    return ErrnoError(errno, "write", path);
  return absl::OkStatus();
}

RunLogTicker::RunLogTicker(absl::Duration every, std::function<void()> note)
    : thread_([this, every = std::max(every, absl::Milliseconds(10)), note = std::move(note)] {
        while (!stop_.WaitForNotificationWithTimeout(every)) note();
      }) {}

RunLogTicker::~RunLogTicker() {
  stop_.Notify();
  thread_.join();
}

absl::StatusOr<std::vector<RunLogEntry>> ReadRunLog(const std::string& path) {
  std::vector<RunLogEntry> runs;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return runs;
    return text.status();
  }
  std::map<std::string, size_t, std::less<>> by_id;
  simdjson::dom::parser parser;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    const std::string_view line(text->data() + pos, end - pos);
    pos = end + 1;
    simdjson::dom::element e;
    std::string_view id, t, s;
    if (parser.parse(line.data(), line.size()).get(e) != simdjson::SUCCESS ||
        e["run_id"].get_string().get(id) != simdjson::SUCCESS)
      continue;
    if (e["started"].get_string().get(t) == simdjson::SUCCESS) {
      RunLogEntry r;
      r.run_id = std::string(id);
      r.started = ParseRfc3339(t).value_or(absl::InfinitePast());
      if (e["host"].get_string().get(s) == simdjson::SUCCESS) r.host = std::string(s);
      int64_t pid = 0;
      if (e["pid"].get_int64().get(pid) == simdjson::SUCCESS) r.pid = pid;
      by_id[r.run_id] = runs.size();
      runs.push_back(std::move(r));
      continue;
    }
    auto it = by_id.find(id);
    uint64_t records = 0;
    if (it == by_id.end() || e["records"].get_uint64().get(records) != simdjson::SUCCESS) continue;
    RunLogEntry& r = runs[it->second];
    if (e["ended"].get_string().get(t) == simdjson::SUCCESS) {
      r.ended = ParseRfc3339(t);
      if (e["outcome"].get_string().get(s) == simdjson::SUCCESS) r.outcome = std::string(s);
      r.records = records;
    } else if (e["at"].get_string().get(t) == simdjson::SUCCESS) {
      if (std::optional<absl::Time> at = ParseRfc3339(t)) r.progress.emplace_back(*at, records);
    }
  }
  return runs;
}

}  // namespace recovery
