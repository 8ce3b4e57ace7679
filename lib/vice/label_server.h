// rl-label serve: a web page that answers a run's success questions (the
// question folder of vice/query_queue.h), served by cpp-httplib.
//
//   GET  /                 the oldest unanswered question: its image (enlarged,
//                          pixels kept sharp), the classifier's probability and
//                          its age, the examples of success beside it, and the
//                          buttons Success / Not a success / Skip (a plain HTML
//                          form: no script). With nothing pending, a note that
//                          reloads itself every 10 s.
//   POST /answer           form fields id, label (success | failure | skip):
//                          QueryQueue::Answer(id, label, "web"), then 303 to /.
//                          400 for a bad form, 409 for a question already answered.
//   GET  /image/q-NNNNNN.png   a question's image
//   GET  /example/N        the N-th example image (sorted by file name)
//   GET  /pending.json     the unanswered questions as JSON
// The page is bound to loopback (127.0.0.1) unless --host says otherwise;
// another host needs a token (--token or $PERPETUA_LABEL_TOKEN), as the
// robot protocol does. With a token, every request must carry it: the query
// parameter ?token=, the form field token, or the header X-Perpetua-Token;
// otherwise 403. The URL to open (with the token) is printed on stdout.
// Torch-free header.
#pragma once

#include <string>

#include "common/config.h"
#include "common/error.h"

namespace perpetua {

struct LabelServeConfig {
  std::string queue;
  std::string examples;
  std::string host = "127.0.0.1";
  int port = 8470;
  std::string token;
  void Visit(ConfigVisitor& v) {
    v.Field("queue", queue, "the run's question folder (<rl-train --out>/queries)", FieldKind::kRequired);
    v.Field("examples", examples, "folder of the example images of success, shown beside each question");
    v.Field("host", host, "address to listen on (127.0.0.1: this machine only; another needs --token)",
            FieldScope::kLocal);
    v.Field("port", port, "port to listen on (0: any free port; the URL is printed)", FieldScope::kLocal);
    v.Field("token", token, "shared secret every request must carry; empty = $PERPETUA_LABEL_TOKEN or none",
            FieldScope::kSecret);
  }
};

// Serves until SIGINT/SIGTERM (then kInterrupted). Error(kUsage) for bad
// flags (a non-loopback host without a token, a port out of range),
// Error(kBadData) for a missing question or examples folder, Error(kIoError)
// when it cannot listen.
ExitCode RunLabelServe(const LabelServeConfig& config);

}  // namespace perpetua
