// The question queue of active queries (RAQ): a folder that a training run
// writes questions into and that any answerer (the web page of rl-label
// serve, rl-label ask at a terminal, rl-label answer or any other tool, the
// simulation oracle) writes answers into. Files, so that nothing blocks
// training and a person may answer hours later, from another machine.
//
//   DIR/q-000001.png   the state asked about (written atomically, before its line)
//   DIR/queries.jsonl  one line per question:
//                      {"id":1,"image":"q-000001.png","probability":0.93,"step":1200,"time_unix":...}
//   DIR/answers.jsonl  one line per answer:
//                      {"id":1,"label":"success"|"failure"|"skip","by":"web","time_unix":...}
//
// Durability: each line is appended with one write() under an exclusive
// flock on its file, then fsynced; a line becomes visible whole or (after a
// crash mid-write) as a torn last line without its newline, which readers
// ignore and the next writer terminates first (it then reads as a garbage
// line, reported and skipped). So a SIGKILL at any moment loses at most the
// line being written. The first answer to a question stands; later ones are
// refused by Answer() and reported (and ignored) by ReadAnswers().
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/array.h"

namespace perpetua {

struct Query {
  int64_t id = 0;
  std::string image;         // file name in the queue folder
  double probability = 0.0;  // the classifier's P(success) when asked
  int64_t step = 0;          // the learner's step when asked
  double time_unix = 0.0;
};

struct QueryAnswer {
  int64_t id = 0;
  std::string label;  // "success", "failure" or "skip"
  std::string by;     // who answered: "web", "terminal", "file", "oracle", ...
  double time_unix = 0.0;
};

// True for "success", "failure" and "skip".
bool IsQueryLabel(const std::string& label);

class QueryQueue {
 public:
  // Uses folder `dir`, creating it when `create` (Error(kIoError) if it
  // cannot); without `create` a missing folder is Error(kBadData).
  QueryQueue(std::string dir, bool create);

  // Writes `image` ([H,W,3] uint8) and appends the question; returns its id
  // (one more than the largest so far). Error(kIoError).
  int64_t Ask(const Array& image, double probability, int64_t step);
  // Appends an answer. Error(kUsage) for a label that is not success,
  // failure or skip, or an id never asked ("no question 7 in DIR"), and
  // Error(kBadData) "question 3 is already answered (success, by web)" for a
  // second answer. Error(kIoError) when it cannot write.
  void Answer(int64_t id, const std::string& label, const std::string& by);

  // Every complete question line, in order (garbage lines are skipped).
  std::vector<Query> Queries() const;
  struct Answers {
    std::vector<QueryAnswer> answers;   // the standing answer of each answered question, in order
    std::vector<std::string> problems;  // "answers.jsonl line 4: not a JSON answer", "... answers question 3 again"
  };
  // Every complete answer line, checked. Never throws on content.
  Answers ReadAnswers() const;
  // Questions without a standing answer, oldest first.
  std::vector<Query> Unanswered() const;
  // The question's image. Error(kBadData) when missing or corrupt.
  Array Image(const Query& query) const;

  const std::string& dir() const { return dir_; }
  std::string answers_path() const { return dir_ + "/answers.jsonl"; }
  std::string queries_path() const { return dir_ + "/queries.jsonl"; }

 private:
  std::string dir_;
};

// Appends `line` + "\n" to `path` as the file comment says (flock, one
// write, fsync; a torn last line is terminated first). Error(kIoError).
void AppendLineDurably(const std::string& path, const std::string& line);

}  // namespace perpetua
