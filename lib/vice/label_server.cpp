#include "vice/label_server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/config.h"
#include "common/fs.h"
#include "common/html.h"
#include "common/log.h"
#include "common/signals.h"
#include "robot/transport.h"
#include "vice/example_images.h"
#include "vice/query_queue.h"

namespace perpetua {
namespace {

constexpr int kExamplesShown = 12;

const char* kStyle =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}"
    "h1{font-size:1.5em;margin:0 0 8px}.meta{color:#555;margin:0 0 16px}"
    ".row{display:flex;gap:32px;align-items:flex-start;flex-wrap:wrap}"
    "figure{margin:0}figcaption{color:#555;font-size:.9em;text-align:center}"
    "img{image-rendering:pixelated;border:1px solid #ccc}"
    ".examples{display:grid;grid-template-columns:repeat(4,88px);gap:8px}"
    ".examples img{width:88px;height:88px}"
    "form{margin-top:20px}button{font-size:1.1em;padding:10px 22px;margin-right:12px;cursor:pointer}"
    "#success{background:#2e7d32;color:#fff;border:0}#failure{background:#c62828;color:#fff;border:0}"
    "#skip{background:#eee;border:1px solid #aaa}.note{background:#fff8e1;padding:8px 12px}";

// `text` percent-encoded for a URL's query (unreserved characters kept).
std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

std::string Age(double seconds) {
  if (seconds < 90) return std::to_string(static_cast<int64_t>(seconds)) + " s";
  if (seconds < 5400) return std::to_string(static_cast<int64_t>(seconds / 60)) + " min";
  return FixedText(seconds / 3600, 1) + " h";
}

class LabelSite {
 public:
  LabelSite(const LabelServeConfig& config, std::string token)
      : queue_(config.queue, /*create=*/false), token_(std::move(token)) {
    if (!config.examples.empty()) {
      if (!IsDirectory(config.examples)) Fail(ExitCode::kBadData, config.examples + ": no such folder of examples");
      for (const auto& entry : std::filesystem::directory_iterator(config.examples)) {
        if (IsImageFileName(entry.path().filename().string())) examples_.push_back(entry.path().string());
      }
      std::sort(examples_.begin(), examples_.end());
      if (examples_.empty()) Fail(ExitCode::kBadData, config.examples + ": no PNG or JPEG image in the folder");
    }
  }

  void Install(httplib::Server& server) {
    server.Get("/", [this](const httplib::Request& req, httplib::Response& res) {
      if (Allowed(req, res)) res.set_content(Page(req.get_param_value("said")), "text/html; charset=utf-8");
    });
    server.Get("/pending.json", [this](const httplib::Request& req, httplib::Response& res) {
      if (!Allowed(req, res)) return;
      nlohmann::json list = nlohmann::json::array();
      for (const Query& q : queue_.Unanswered()) {
        list.push_back({{"id", q.id}, {"image", q.image}, {"probability", q.probability}, {"step", q.step},
                        {"time_unix", q.time_unix}});
      }
      res.set_content(list.dump(), "application/json");
    });
    server.Get(R"(/image/(q-[0-9]{6}\.png))", [this](const httplib::Request& req, httplib::Response& res) {
      if (Allowed(req, res)) SendFile(queue_.dir() + "/" + req.matches[1].str(), res);
    });
    server.Get(R"(/example/([0-9]{1,6}))", [this](const httplib::Request& req, httplib::Response& res) {
      if (!Allowed(req, res)) return;
      const size_t i = std::stoul(req.matches[1].str());
      if (i >= examples_.size()) {
        res.status = 404;
        return;
      }
      SendFile(examples_[i], res);
    });
    server.Post("/answer", [this](const httplib::Request& req, httplib::Response& res) {
      if (!Allowed(req, res)) return;
      const std::string id_text = req.get_param_value("id"), label = req.get_param_value("label");
      if (!std::regex_match(id_text, std::regex("[0-9]{1,12}")) || !IsQueryLabel(label)) {
        Reply(res, 400, "A form with the question's id and a label (success, failure or skip) is needed.");
        return;
      }
      try {
        queue_.Answer(std::stoll(id_text), label, "web");
      } catch (const Error& e) {
        Reply(res, e.code() == ExitCode::kBadData ? 409 : 400, e.what());
        return;
      }
      LogInfo("question " + id_text + " answered " + label + " (web)");
      res.status = 303;
      res.set_header("Location", "/?said=" + id_text + (token_.empty() ? "" : "&token=" + UrlEncode(token_)));
    });
  }

 private:
  // False (with a 403 reply) when a token is set and the request lacks it.
  bool Allowed(const httplib::Request& req, httplib::Response& res) {
    if (token_.empty()) return true;
    std::string given = req.get_param_value("token");
    if (given.empty()) given = req.get_header_value("X-Perpetua-Token");
    if (robot::SameToken(given, token_)) return true;
    res.status = 403;
    res.set_content("rl-label serve: wrong or missing token\n", "text/plain; charset=utf-8");
    return false;
  }

  std::string WithToken(const std::string& url) const {
    if (token_.empty()) return url;
    return url + (url.find('?') == std::string::npos ? "?" : "&") + "token=" + HtmlEscape(UrlEncode(token_));
  }

  void Reply(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content("<!doctype html><html><head><meta charset=\"utf-8\"><title>rl-label</title><style>" +
                        std::string(kStyle) + "</style></head><body><p class=\"note\">" + HtmlEscape(message) +
                        "</p><p><a href=\"" + WithToken("/") + "\">Back to the questions</a></p></body></html>",
                    "text/html; charset=utf-8");
  }

  static void SendFile(const std::string& path, httplib::Response& res) {
    try {
      const std::string bytes = ReadFileOrFail(path, ExitCode::kBadData, 16u << 20);
      std::string extension = std::filesystem::path(path).extension().string();
      for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      res.set_content(bytes, extension == ".png" ? "image/png" : "image/jpeg");
    } catch (const Error&) {
      res.status = 404;
    }
  }

  std::string Page(const std::string& said) {
    const std::vector<Query> pending = queue_.Unanswered();
    std::string html = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">";
    if (pending.empty()) html += "<meta http-equiv=\"refresh\" content=\"10\">";
    html += "<title>Success? - rl-label</title><style>" + std::string(kStyle) + "</style></head><body>\n";
    if (!said.empty()) html += "<p class=\"note\" id=\"said\">Answer to question " + HtmlEscape(said) + " saved.</p>\n";
    if (pending.empty()) {
      html += "<h1>No question waiting</h1>\n<p class=\"meta\" id=\"pending\">0 pending. The robot asks when it "
              "finds a state it rates likely a success; this page looks again every 10 s.</p>\n";
    } else {
      const Query& q = pending.front();
      html += "<h1>Is this a success?</h1>\n<p class=\"meta\" id=\"pending\">Question " + std::to_string(q.id) +
              " &middot; " + std::to_string(pending.size()) + " pending &middot; asked " +
              Age(UnixSeconds() - q.time_unix) + " ago at training step " + std::to_string(q.step) +
              " &middot; the classifier says " + FixedText(q.probability, 2) + "</p>\n<div class=\"row\">\n";
      html += "<figure><img id=\"query\" src=\"" + WithToken("/image/" + HtmlEscape(q.image)) +
              "\" width=\"320\" height=\"320\" alt=\"the state asked about\"><figcaption>what the robot saw"
              "</figcaption>\n<form method=\"post\" action=\"/answer\"><input type=\"hidden\" name=\"id\" value=\"" +
              std::to_string(q.id) + "\">";
      if (!token_.empty()) html += "<input type=\"hidden\" name=\"token\" value=\"" + HtmlEscape(token_) + "\">";
      html += "<button id=\"success\" name=\"label\" value=\"success\">Success</button>"
              "<button id=\"failure\" name=\"label\" value=\"failure\">Not a success</button>"
              "<button id=\"skip\" name=\"label\" value=\"skip\">Skip</button></form></figure>\n";
      if (!examples_.empty()) {
        html += "<div><h2>Examples of success</h2><div class=\"examples\">";
        const size_t shown = std::min<size_t>(examples_.size(), kExamplesShown);
        for (size_t i = 0; i < shown; ++i) {
          html += "<img class=\"example\" src=\"" + WithToken("/example/" + std::to_string(i)) + "\" alt=\"example " +
                  std::to_string(i + 1) + "\">";
        }
        html += "</div></div>\n";
      }
      html += "</div>\n";
    }
    html += "</body></html>\n";
    return html;
  }

  QueryQueue queue_;
  std::string token_;
  std::vector<std::string> examples_;
};

}  // namespace

ExitCode RunLabelServe(const LabelServeConfig& config) {
  if (config.queue.empty()) Fail(ExitCode::kUsage, "--queue is required (the run's question folder)");
  if (config.port < 0 || config.port > 65535) Fail(ExitCode::kUsage, "--port must be in 0..65535");
  std::string token = config.token;
  if (token.empty()) {
    const char* env = std::getenv("PERPETUA_LABEL_TOKEN");
    if (env) token = env;
  }
  if (!robot::ParseAddress("tcp://" + config.host + ":" + std::to_string(std::max(config.port, 1))).IsLoopback() &&
      token.empty()) {
    Fail(ExitCode::kUsage, "--host " + config.host +
                               " is not a loopback address: give --token (or $PERPETUA_LABEL_TOKEN) so that only "
                               "people knowing it can label");
  }
  LabelSite site(config, token);
  httplib::Server server;
  site.Install(server);
  const int port = config.port == 0 ? server.bind_to_any_port(config.host)
                                    : (server.bind_to_port(config.host, config.port) ? config.port : -1);
  if (port <= 0) {
    Fail(ExitCode::kIoError, "cannot listen on " + config.host + ":" + std::to_string(config.port) +
                                 " (in use, or not an address of this machine)");
  }
  InstallInterruptHandlers();
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done && !StopRequested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server.stop();
  });
  std::cout << "http://" << (config.host.find(':') != std::string::npos ? "[" + config.host + "]" : config.host)
            << ":" << port << "/" << (token.empty() ? "" : "?token=" + UrlEncode(token)) << std::endl;
  LogInfo("serving the questions of " + config.queue + " (Ctrl-C stops)");
  server.listen_after_bind();
  done = true;
  watcher.join();
  return StopRequested() ? ExitCode::kInterrupted : ExitCode::kOk;
}

}  // namespace perpetua
