// TensorBoard event files: CRC-32C against RFC 3720's vectors, the TFRecord
// framing (every truncation, every corruption), EventWriter's files read back
// by the generated C++ classes and by an independent Python reader
// (read_events.py, python3-protobuf), flush cadence, failures and their
// messages, and a real writer process SIGKILLed at random instants.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "support/tensorboard_events.h"
#include "support/test_support.h"
#include "tensorboard.pb.h"
#include "tensorboard/crc32c.h"
#include "tensorboard/event_writer.h"
#include "tensorboard/record_io.h"
#include "tensorboard/writer_child.h"

namespace perpetua::tensorboard {
namespace {

using testing::TempDir;

// The events of one file, parsed by the generated classes after the framing.
struct EventFile {
  std::vector<Event> events;
  std::string stop_reason;
};

EventFile ReadEventFile(const std::string& path) {
  const RecordScan scan = ScanRecords(testing::ReadFile(path));
  EventFile file;
  file.stop_reason = scan.stop_reason;
  for (const std::string& record : scan.records) {
    Event event;
    REQUIRE(event.ParseFromString(record));
    file.events.push_back(event);
  }
  return file;
}

// The one event file of `dir` (full path).
std::string OnlyFile(const std::string& dir) {
  const std::vector<std::string> files = testing::ListFiles(dir);
  REQUIRE(files.size() == 1);
  return dir + "/" + files[0];
}

void CheckFileVersion(const Event& event) {
  CHECK(event.file_version() == "brain.Event:2");
  CHECK(event.wall_time() > 1.7e9);
}

}  // namespace

TEST_CASE("CRC-32C matches the RFC 3720 B.4 iSCSI vectors") {
  CHECK(Crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(Crc32c(std::string(32, '\xFF')) == 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  CHECK(Crc32c(ascending) == 0x46DD794Eu);
  CHECK(Crc32c(descending) == 0x113FDB5Cu);
  // An iSCSI read command PDU (RFC 3720 B.4, 48 bytes).
  const unsigned char read_pdu[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  CHECK(Crc32c(std::string(reinterpret_cast<const char*>(read_pdu), 48)) == 0xD9963A56u);
  CHECK(Crc32c("123456789") == 0xE3069283u);
  CHECK(Crc32c("") == 0u);
}

TEST_CASE("the CRC mask rotates right by 15 and adds 0xA282EAD8") {
  CHECK(MaskCrc(0) == 0xA282EAD8u);
  CHECK(MaskCrc(0xE3069283u) == ((0xE3069283u >> 15 | 0xE3069283u << 17) + 0xA282EAD8u));
  CHECK(MaskCrc(0x00008000u) == 0xA282EAD9u);  // bit 15 rotates to bit 0
}

TEST_CASE("a framed record is length then masked CRCs around the data") {
  const std::string framed = FrameRecord("abc");
  REQUIRE(framed.size() == 3 + kRecordOverhead);
  CHECK(framed.substr(0, 8) == std::string("\x03\0\0\0\0\0\0\0", 8));
  const uint32_t length_crc = MaskCrc(Crc32c(framed.substr(0, 8)));
  CHECK(framed.substr(8, 4) == std::string(reinterpret_cast<const char*>(&length_crc), 4));
  CHECK(framed.substr(12, 3) == "abc");
  const uint32_t data_crc = MaskCrc(Crc32c("abc"));
  CHECK(framed.substr(15, 4) == std::string(reinterpret_cast<const char*>(&data_crc), 4));
}

TEST_CASE("a scan stops at a truncation anywhere with every earlier record intact") {
  const std::vector<std::string> data = {"first", "", std::string(300, 'x'), "last"};
  std::string bytes;
  std::vector<size_t> ends;
  for (const std::string& d : data) {
    bytes += FrameRecord(d);
    ends.push_back(bytes.size());
  }
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    const RecordScan scan = ScanRecords(std::string_view(bytes).substr(0, cut));
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    REQUIRE(scan.records.size() == complete);
    for (size_t i = 0; i < complete; ++i) CHECK(scan.records[i] == data[i]);
    const bool at_boundary = cut == 0 || (complete > 0 && ends[complete - 1] == cut);
    CHECK(scan.stop_reason == (at_boundary ? "" : "short record"));
    CHECK(scan.valid_bytes == (complete == 0 ? 0 : ends[complete - 1]));
  }
}

TEST_CASE("a scan stops at a flipped bit in a length, a data byte or a CRC") {
  const std::string bytes = FrameRecord("one") + FrameRecord("two");
  const size_t second = 3 + kRecordOverhead;
  struct Case {
    size_t at;
    const char* reason;
  };
  for (const Case& c : {Case{second + 0, "bad length CRC"}, Case{second + 9, "bad length CRC"},
                        Case{second + 13, "bad data CRC"}, Case{second + 16, "bad data CRC"}}) {
    std::string damaged = bytes;
    damaged[c.at] = static_cast<char>(damaged[c.at] ^ 0x10);
    const RecordScan scan = ScanRecords(damaged);
    REQUIRE(scan.records.size() == 1);
    CHECK(scan.records[0] == "one");
    CHECK(scan.valid_bytes == second);
    CHECK(scan.stop_reason == c.reason);
  }
}

TEST_CASE("an event file has TensorBoard's name and starts with the file version") {
  TempDir dir;
  std::string path;
  {
    EventWriter writer(dir / "runs/a");
    path = writer.path();
  }
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  const std::string name = path.substr(path.rfind('/') + 1);
  CHECK(path == dir / "runs/a/" + name);
  CHECK(std::regex_match(name, std::regex(R"(events\.out\.tfevents\.\d{10}\.)" +
                                          std::string(host) + R"(\.)" + std::to_string(getpid()))));
  const long long stamp = std::stoll(name.substr(20, 10));
  CHECK(std::abs(stamp - static_cast<long long>(UnixSeconds())) < 60);
  const EventFile file = ReadEventFile(path);
  REQUIRE(file.events.size() == 1);
  CheckFileVersion(file.events[0]);
  CHECK(file.stop_reason == "");
}

TEST_CASE("two writers of one process on one directory write two files") {
  TempDir dir;
  EventWriter first(dir / "run");
  EventWriter second(dir / "run");
  CHECK(first.path() != second.path());
  first.AddScalar("a", 1, 1.0);
  second.AddScalar("b", 2, 2.0);
  first.Flush();
  second.Flush();
  CHECK(testing::ListFiles(dir / "run").size() == 2);
  CHECK(ReadEventFile(first.path()).events.at(1).summary().value(0).tag() == "a");
  CHECK(ReadEventFile(second.path()).events.at(1).summary().value(0).tag() == "b");
}

TEST_CASE("scalars images and text read back with the C++ and the Python reader") {
  TempDir dir;
  const Array image = ChildImage(3);
  {
    EventWriter writer(dir / "run");
    writer.AddScalar("loss", 0, 0.5, 1.8e9);
    writer.AddScalar("eval/success", 100, 0.875, 1.8e9 + 1);
    writer.AddImage("obs/image", 100, image, 1.8e9 + 2);
    writer.AddText("config", 0, "```\nbatch_size: 64\n```", 1.8e9 + 3);
  }
  const std::string path = OnlyFile(dir / "run");

  const EventFile file = ReadEventFile(path);
  CHECK(file.stop_reason == "");
  REQUIRE(file.events.size() == 5);
  CheckFileVersion(file.events[0]);
  const Summary::Value& png = file.events[3].summary().value(0);
  REQUIRE(png.has_image());
  const std::string& encoded = png.image().encoded_image_string();
  const cv::Mat decoded = cv::imdecode(std::vector<uint8_t>(encoded.begin(), encoded.end()),
                                       cv::IMREAD_COLOR);
  REQUIRE(decoded.rows == 24);
  REQUIRE(decoded.cols == 32);
  for (int y = 0; y < 24; ++y) {
    for (int x = 0; x < 32; ++x) {
      const cv::Vec3b bgr = decoded.at<cv::Vec3b>(y, x);
      const size_t at = (static_cast<size_t>(y) * 32 + x) * 3;
      REQUIRE(bgr[2] == image.u8[at]);  // stored RGB, decoded BGR
      REQUIRE(bgr[1] == image.u8[at + 1]);
      REQUIRE(bgr[0] == image.u8[at + 2]);
    }
  }

  const std::vector<nlohmann::json> lines = testing::ReadEventsWithPython({path});
  REQUIRE(lines.size() == 5);
  CHECK(lines[0]["file_version"] == "brain.Event:2");
  CHECK(lines[1]["step"] == 0);
  CHECK(lines[1]["wall_time"] == 1.8e9);
  CHECK(lines[1]["values"][0]["tag"] == "loss");
  CHECK(lines[1]["values"][0]["scalar"] == 0.5);
  CHECK(lines[2]["step"] == 100);
  CHECK(lines[2]["values"][0]["tag"] == "eval/success");
  CHECK(lines[2]["values"][0]["scalar"] == 0.875);
  CHECK(lines[3]["values"][0]["tag"] == "obs/image");
  CHECK(lines[3]["values"][0]["image"] ==
        nlohmann::json{{"height", 24}, {"width", 32}, {"colorspace", 3}, {"png_size", {24, 32}}});
  CHECK(lines[4]["wall_time"] == 1.8e9 + 3);
  CHECK(lines[4]["values"][0]["tag"] == "config");
  CHECK(lines[4]["values"][0]["text"] ==
        nlohmann::json{{"dtype", 7}, {"rank", 0}, {"strings", {"```\nbatch_size: 64\n```"}}});
}

TEST_CASE("the Python reader stops at a corrupt record like the C++ one") {
  TempDir dir;
  {
    EventWriter writer(dir / "run");
    for (int step = 0; step < 3; ++step) writer.AddScalar("x", step, step);
  }
  const std::string path = OnlyFile(dir / "run");
  std::string bytes = testing::ReadFile(path);
  // Damage the data of the third record (step 1).
  const RecordScan intact = ScanRecords(bytes);
  REQUIRE(intact.records.size() == 4);
  const size_t record_size = kRecordOverhead + intact.records[1].size();
  const size_t start = kRecordOverhead + intact.records[0].size() + record_size;
  bytes[start + 13] = static_cast<char>(bytes[start + 13] ^ 1);
  testing::WriteFile(path, bytes);
  const std::vector<nlohmann::json> lines = testing::ReadEventsWithPython({path});
  REQUIRE(lines.size() == 3);
  CHECK(lines[1]["step"] == 0);
  CHECK(lines[2]["stop"] == "bad data CRC");
  CHECK(lines[2]["at"] == start);
  CHECK(ScanRecords(bytes).stop_reason == "bad data CRC");
}

TEST_CASE("records are buffered until the flush cadence or Flush") {
  TempDir dir;
  EventWriterOptions options;
  options.flush_seconds = 1e9;
  options.flush_bytes = 200;
  EventWriter writer(dir / "run", options);
  const std::string path = writer.path();
  const size_t header = testing::ReadFile(path).size();
  CHECK(header > kRecordOverhead);  // the file version is written at once
  writer.AddScalar("a", 1, 1.0);
  CHECK(testing::ReadFile(path).size() == header);
  writer.Flush();
  CHECK(ReadEventFile(path).events.size() == 2);
  for (int step = 2; ReadEventFile(path).events.size() == 2; ++step) {
    REQUIRE(step < 20);  // ~30-byte records: 200 bytes are buffered within a few
    writer.AddScalar("a", step, 1.0);
  }
  CHECK(ReadEventFile(path).stop_reason == "");

  EventWriterOptions timed;
  timed.flush_seconds = 0.05;
  EventWriter by_time(dir / "timed", timed);
  by_time.AddScalar("b", 1, 1.0);
  const size_t before = testing::ReadFile(by_time.path()).size();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  by_time.AddScalar("b", 2, 2.0);  // past flush_seconds: both go out
  CHECK(testing::ReadFile(by_time.path()).size() > before);
  CHECK(ReadEventFile(by_time.path()).events.size() == 3);
}

TEST_CASE("an unusable run directory or a wrong image fails with its message") {
  TempDir dir;
  testing::WriteFile(dir / "file", "x");
  CHECK_THROWS_WITH_AS(EventWriter(dir / "file"), (dir / "file: cannot create directory: Not a directory").c_str(),
                       Error);
  try {
    EventWriter writer(dir / "file/run");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kIoError);
    CHECK(std::string(e.what()).rfind(dir / "file/run: cannot create directory", 0) == 0);
  }
  EventWriter writer(dir / "run");
  try {
    writer.AddImage("obs", 0, Array::Zeros(DType::kFloat32, {4, 4, 3}));
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kUsage);
    CHECK(std::string(e.what()) ==
          "TensorBoard image obs: expected an [H, W, 3] uint8 image, got float32 [4, 4, 3]");
  }
  CHECK_THROWS_WITH_AS(writer.AddImage("obs", 0, Array::Zeros(DType::kUint8, {4, 4})),
                       "TensorBoard image obs: expected an [H, W, 3] uint8 image, got uint8 [4, 4]",
                       Error);
}

TEST_CASE("a write that fails names the file and every later call fails too") {
  TempDir dir;
  EventWriterOptions options;
  options.flush_seconds = 0;
  EventWriter writer(dir / "run", options);
  const std::string path = writer.path();
  const size_t header = testing::ReadFile(path).size();
  // A file-size limit 10 bytes past the header: the next record is cut short
  // and then refused (EFBIG, with SIGXFSZ ignored).
  struct rlimit old_limit;
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = header + 10;
  const auto old_handler = signal(SIGXFSZ, SIG_IGN);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &limit) == 0);
  const std::string message = path + ": cannot write TensorBoard events: File too large";
  CHECK_THROWS_WITH_AS(writer.AddScalar("x", 1, 1.0), message.c_str(), Error);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  signal(SIGXFSZ, old_handler);
  try {
    writer.AddScalar("x", 2, 2.0);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kIoError);
    CHECK(std::string(e.what()) == message);
  }
  CHECK_THROWS_WITH_AS(writer.Flush(), message.c_str(), Error);
  const EventFile file = ReadEventFile(path);
  CHECK(file.events.size() == 1);
  CHECK(file.stop_reason == "short record");
  CHECK(testing::ReadFile(path).size() == header + 10);
}

TEST_CASE("a writer SIGKILLed at random instants leaves only complete records") {
  // Each trial starts a real writer process on one shared run directory (as
  // restarted runs do) and kills it at a random instant; every file must
  // read back as the exact sequence the child writes, up to a last record
  // that is complete or absent (at most a torn tail, never a bad CRC).
  TempDir dir;
  const std::string run = dir / "run";
  Rng rng(18);
  const int kTrials = 40;
  for (int trial = 0; trial < kTrials; ++trial) {
    // Even trials flush every record, odd ones in writes of 256 KiB.
    std::vector<std::string> argv = {std::string(PERPETUA_BIN_DIR) + "/tensorboard_writer_child", run};
    if (trial % 2 == 1) argv.push_back(std::to_string(256 << 10));
    testing::ChildProcess child(argv);
    // Past the child's start (loading its libraries takes tens of ms): once
    // its file exists, a random instant within the next 30 ms.
    const auto start = std::chrono::steady_clock::now();
    while (testing::ListFiles(run).size() == static_cast<size_t>(trial)) {
      REQUIRE(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng.UniformInt(30000)));
    child.Signal(SIGKILL);
    const testing::ProcessResult r = child.Wait();
    REQUIRE_MESSAGE(r.signal == SIGKILL, r.err);
  }
  const std::vector<std::string> names = testing::ListFiles(run);
  CHECK(names.size() == kTrials);
  int torn = 0;
  int64_t records = 0;
  std::vector<std::string> paths;
  for (const std::string& name : names) {
    const std::string path = run + "/" + name;
    paths.push_back(path);
    const EventFile file = ReadEventFile(path);
    CHECK_MESSAGE((file.stop_reason == "" || file.stop_reason == "short record"), path);
    torn += file.stop_reason != "";
    records += static_cast<int64_t>(file.events.size());
    if (file.events.empty()) continue;
    CheckFileVersion(file.events[0]);
    // Replay what the child writes, step by step, against the records read.
    size_t at = 1;
    for (int64_t step = 0; at < file.events.size(); ++step) {
      struct Expected {
        std::string tag;
        double scalar;
      };
      std::vector<Expected> expected = {{"loss", step / 4.0}, {"q/mean", -double(step)}};
      if (step % 5 == 0) expected.push_back({"obs", 0});
      if (step % 50 == 0) expected.push_back({"config", 0});
      for (const Expected& e : expected) {
        if (at == file.events.size()) break;
        const Event& event = file.events[at++];
        REQUIRE(event.step() == step);
        REQUIRE(event.summary().value_size() == 1);
        const Summary::Value& v = event.summary().value(0);
        REQUIRE(v.tag() == e.tag);
        if (e.tag == "obs") {
          CHECK(v.image().height() == 24);
        } else if (e.tag == "config") {
          CHECK(v.tensor().string_val(0) == ChildText(step));
        } else {
          REQUIRE(v.simple_value() == doctest::Approx(e.scalar));
        }
      }
    }
  }
  MESSAGE(names.size() << " files, " << records << " records, " << torn << " torn tails");
  CHECK(records > 10 * kTrials);
  // The independent reader agrees on the first files: same record counts, no CRC failures.
  const std::vector<std::string> sample(paths.begin(), paths.begin() + std::min<size_t>(5, paths.size()));
  int64_t python_records = 0, sample_records = 0;
  for (const nlohmann::json& line : testing::ReadEventsWithPython(sample)) {
    if (line.contains("stop")) {
      CHECK(line["stop"] == "short record");
    } else {
      ++python_records;
    }
  }
  for (const std::string& path : sample) sample_records += ReadEventFile(path).events.size();
  CHECK(python_records == sample_records);
}

}  // namespace perpetua::tensorboard
