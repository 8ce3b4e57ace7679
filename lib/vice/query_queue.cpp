#include "vice/query_queue.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "common/fs.h"
#include "sim/png.h"
#include "vice/example_images.h"

namespace perpetua {
namespace {

constexpr uint64_t kMaxQueueFileBytes = 64ull << 20;

[[noreturn]] void FailIo(const std::string& path, const std::string& what) {
  Fail(ExitCode::kIoError, path + ": cannot " + what + ": " + std::strerror(errno));
}

// Runs `decide` on the file's whole content under an exclusive flock and
// appends the line it returns (nothing when it returns ""), durably.
void LockedAppend(const std::string& path, const std::function<std::string(const std::string&)>& decide) {
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) FailIo(path, "open");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }  // also releases the flock
  } closer{fd};
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) FailIo(path, "lock");
  }
  std::string content;
  char buffer[1 << 16];
  for (off_t offset = 0;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof(buffer), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) FailIo(path, "read");
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    offset += n;
    if (content.size() > kMaxQueueFileBytes) Fail(ExitCode::kBadData, path + ": larger than 64 MiB");
  }
  const std::string line = decide(content);
  if (line.empty()) return;
  // A torn last line (a writer killed mid-write) is terminated first, so the new line stays whole.
  const std::string bytes = (!content.empty() && content.back() != '\n' ? "\n" : "") + line + "\n";
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) FailIo(path, "append to");
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) FailIo(path, "fsync");
}

// The complete lines of `content` (a torn last line without newline is left out).
std::vector<std::string> CompleteLines(const std::string& content) {
  std::vector<std::string> lines;
  size_t begin = 0;
  for (size_t end; (end = content.find('\n', begin)) != std::string::npos; begin = end + 1) {
    lines.push_back(content.substr(begin, end - begin));
  }
  return lines;
}

std::string ReadIfPresent(const std::string& path) {
  if (!IsRegularFile(path)) return "";
  return ReadFileOrFail(path, ExitCode::kBadData, kMaxQueueFileBytes);
}

bool ParseQuery(const std::string& line, Query* q) {
  try {
    const nlohmann::json j = nlohmann::json::parse(line);
    q->id = j.at("id").get<int64_t>();
    q->image = j.at("image").get<std::string>();
    q->probability = j.at("probability").get<double>();
    q->step = j.at("step").get<int64_t>();
    q->time_unix = j.at("time_unix").get<double>();
    return q->id > 0 && !q->image.empty() && q->image.find('/') == std::string::npos;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

// Parses `content` as answers to `asked` (ids), as ReadAnswers describes.
QueryQueue::Answers CheckAnswers(const std::string& content, const std::map<int64_t, bool>& asked) {
  QueryQueue::Answers out;
  std::map<int64_t, size_t> standing;  // id -> index in out.answers
  const std::vector<std::string> lines = CompleteLines(content);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = "answers.jsonl line " + std::to_string(i + 1) + ": ";
    QueryAnswer a;
    try {
      const nlohmann::json j = nlohmann::json::parse(lines[i]);
      a.id = j.at("id").get<int64_t>();
      a.label = j.at("label").get<std::string>();
      a.by = j.value("by", std::string("unknown"));
      a.time_unix = j.value("time_unix", 0.0);
    } catch (const nlohmann::json::exception&) {
      out.problems.push_back(where + "not a JSON answer {\"id\": N, \"label\": \"success|failure|skip\"}");
      continue;
    }
    if (!IsQueryLabel(a.label)) {
      out.problems.push_back(where + "label '" + a.label + "' is not success, failure or skip");
    } else if (asked.count(a.id) == 0) {
      out.problems.push_back(where + "answers question " + std::to_string(a.id) + ", never asked");
    } else if (standing.count(a.id) != 0) {
      out.problems.push_back(where + "answers question " + std::to_string(a.id) + " again; the first answer stands");
    } else {
      standing[a.id] = out.answers.size();
      out.answers.push_back(a);
    }
  }
  return out;
}

std::map<int64_t, bool> AskedIds(const std::vector<Query>& queries) {
  std::map<int64_t, bool> ids;
  for (const Query& q : queries) ids[q.id] = true;
  return ids;
}

}  // namespace

bool IsQueryLabel(const std::string& label) { return label == "success" || label == "failure" || label == "skip"; }

void AppendLineDurably(const std::string& path, const std::string& line) {
  LockedAppend(path, [&](const std::string&) { return line; });
}

QueryQueue::QueryQueue(std::string dir, bool create) : dir_(std::move(dir)) {
  if (create) {
    EnsureWritableDirectory(dir_);
  } else if (!IsDirectory(dir_)) {
    Fail(ExitCode::kBadData, dir_ + ": not a question folder (no such folder)");
  }
}

int64_t QueryQueue::Ask(const Array& image, double probability, int64_t step) {
  int64_t id = 0;
  LockedAppend(queries_path(), [&](const std::string& content) {
    for (const std::string& line : CompleteLines(content)) {
      Query q;
      if (ParseQuery(line, &q)) id = std::max(id, q.id);
    }
    ++id;
    char name[32];
    std::snprintf(name, sizeof(name), "q-%06lld.png", static_cast<long long>(id));
    sim::WritePng(dir_ + "/" + name, image);
    return nlohmann::json{{"id", id}, {"image", name}, {"probability", probability}, {"step", step},
                          {"time_unix", UnixSeconds()}}
        .dump();
  });
  return id;
}

void QueryQueue::Answer(int64_t id, const std::string& label, const std::string& by) {
  if (!IsQueryLabel(label)) Fail(ExitCode::kUsage, "answer '" + label + "': say success, failure or skip");
  const std::map<int64_t, bool> asked = AskedIds(Queries());
  if (asked.count(id) == 0) Fail(ExitCode::kUsage, "no question " + std::to_string(id) + " in " + dir_);
  LockedAppend(answers_path(), [&](const std::string& content) {
    for (const QueryAnswer& a : CheckAnswers(content, asked).answers) {
      if (a.id == id) {
        Fail(ExitCode::kBadData, "question " + std::to_string(id) + " is already answered (" + a.label + ", by " +
                                     a.by + ")");
      }
    }
    return nlohmann::json{{"id", id}, {"label", label}, {"by", by}, {"time_unix", UnixSeconds()}}.dump();
  });
}

std::vector<Query> QueryQueue::Queries() const {
  std::vector<Query> out;
  for (const std::string& line : CompleteLines(ReadIfPresent(queries_path()))) {
    Query q;
    if (ParseQuery(line, &q)) out.push_back(q);
  }
  return out;
}

QueryQueue::Answers QueryQueue::ReadAnswers() const {
  return CheckAnswers(ReadIfPresent(answers_path()), AskedIds(Queries()));
}

std::vector<Query> QueryQueue::Unanswered() const {
  std::map<int64_t, bool> answered;
  for (const QueryAnswer& a : ReadAnswers().answers) answered[a.id] = true;
  std::vector<Query> out;
  for (const Query& q : Queries()) {
    if (answered.count(q.id) == 0) out.push_back(q);
  }
  return out;
}

Array QueryQueue::Image(const Query& query) const { return ReadImageFile(dir_ + "/" + query.image); }

}  // namespace perpetua
