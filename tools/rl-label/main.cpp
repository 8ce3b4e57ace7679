// rl-label: rewards learned from example images of success (VICE-RAQ).
#include "common/cli.h"
#include "vice/label_commands.h"
#include "vice/label_server.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-label", "Learn rewards from a few example images of success (VICE), "
                                  "asking a person a few questions.");
  perpetua::LabelExportConfig export_config;
  tool.AddVerb("export", "write the last frames of successful episodes as example images (PNG)", export_config,
               [&] { return perpetua::RunLabelExport(export_config); });
  perpetua::LabelTrainConfig train;
  tool.AddVerb("train", "train a success classifier: example images against the robot's states", train,
               [&] { return perpetua::RunLabelTrain(train, tool.effective_config()); });
  perpetua::LabelScoreConfig score;
  tool.AddVerb("score", "print a classifier's success probability for images or episodes", score,
               [&] { return perpetua::RunLabelScore(score); });
  perpetua::LabelPendingConfig pending;
  perpetua::LabelAnswerConfig answer;
  perpetua::LabelAskConfig ask;
  tool.AddVerb("pending", "list a run's unanswered success questions", pending,
               [&] { return perpetua::RunLabelPending(pending); });
  tool.AddVerb("answer", "answer one of a run's success questions", answer,
               [&] { return perpetua::RunLabelAnswer(answer); });
  tool.AddVerb("ask", "answer a run's success questions at the terminal", ask,
               [&] { return perpetua::RunLabelAsk(ask); });
  perpetua::LabelServeConfig serve;
  tool.AddVerb("serve", "answer a run's success questions in a web page", serve,
               [&] { return perpetua::RunLabelServe(serve); });
  return tool.Main(argc, argv);
}
