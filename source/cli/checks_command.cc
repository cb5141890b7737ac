// `petrel checks test FILE`: runs the configured header and body checks (checks:, the same
// stage the server puts in the content pass, server/header_checks_stage.h) over a message
// file and prints each action with the line that matched, then what end of data would do:
// refuse, discard, hold or accept, the recipients changes and the header edits. Nothing is
// logged, queued or delivered. Exit 0 when the message would be accepted (held included), 1
// when refused or discarded, 78 on a config problem.
#include "checks_command.h"

#include <fmt/format.h>

#include <memory>

#include "message_file.h"
#include "petrel/config/config.h"
#include "petrel/content/chain.h"
#include "petrel/server/config_checks.h"
#include "petrel/server/header_checks_stage.h"

namespace petrel::cli {

namespace {

constexpr int ExConfig = 78;

struct NullStore : smtp::BodySink {
  std::string header;
  bool in_header = true;
  void append(std::string_view content) override {
    if (in_header) header.append(content);
    in_header = false;  // the chain writes the header section in one piece
  }
};

}  // namespace

int checksCommand(const std::string& config_path, const std::vector<std::string>& args) {
  if (args.size() != 3 || args[1] != "test") {
    fmt::print(stderr, "usage: petrel checks test FILE   (FILE may be - for standard input)\n");
    return 2;
  }
  auto loaded = config::loadConfig(config_path, server::standardValidators());
  for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.toString());
  if (!loaded.errors.empty()) return ExConfig;
  const config::Config& cfg = *loaded.config;
  bool broken = false;
  auto tables = server::openCheckTables(cfg.checks, [&broken](const std::string& w) {
    fmt::print(stderr, "warning: {}\n", w);
    broken = true;
  });
  if (!tables) {
    fmt::print("no checks configured (checks: in {})\n", cfg.source_file);
    return 0;
  }
  auto text = readMessage(args[2], "petrel checks");
  if (!text) return 1;
  std::string wire = toCrlf(*text);

  server::HeaderChecksSetup setup;
  setup.tables = tables;
  setup.on_hit = [](const server::CheckHit& h) {
    if (h.what == "config") {
      fmt::print("warning: {}\n", h.text);
      return;
    }
    fmt::print("{}_checks: {}\n  {}{}{}\n", h.klass, h.line, h.action, h.text.empty() ? "" : " ",
               h.text);
    if (!h.applied) fmt::print("  (not applied: the server cannot apply it here)\n");
  };
  std::vector<std::unique_ptr<content::ContentStage>> stages;
  stages.push_back(server::headerChecks(std::move(setup)));
  NullStore store;
  content::ContentChain chain(std::move(stages), store);
  chain.append(wire);
  std::vector<content::Recipient> rcpts{{"recipient@example.org", "recipient@example.org", "", ""}};
  content::ContentChain::End end = chain.finish(rcpts);
  if (end.refusal) {
    fmt::print("result: refused at end of data: {}\n", end.refusal->oneLine());
    return 1;
  }
  if (end.discard) {
    fmt::print("result: discarded ({})\n", *end.discard);
    return 1;
  }
  if (end.header) fmt::print("header after edits:\n{}", withoutCr(*end.header));
  if (rcpts.size() != 1 || rcpts[0].address != "recipient@example.org") {
    fmt::print("recipients (for a message to recipient@example.org):");
    for (const auto& r : rcpts) fmt::print(" {}", r.address);
    fmt::print("\n");
  }
  if (end.hold) {
    fmt::print("result: accepted and held ({})\n", *end.hold);
  } else {
    fmt::print("result: accepted\n");
  }
  return broken ? ExConfig : 0;
}

}  // namespace petrel::cli
