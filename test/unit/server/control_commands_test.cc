// ControlCommands: a line is routed to its command with the argument trimmed; an unknown
// command, or one that needs an argument and has none, is answered with an error.
#include "petrel/server/control_commands.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace petrel::server {
namespace {

class ControlCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    commands_.add("flush", false, [this](const std::string& arg, ControlCommands::Respond r) {
      calls_.push_back("flush[" + arg + "]");
      r("ok\n");
    });
    commands_.add("hold", true, [this](const std::string& arg, ControlCommands::Respond r) {
      calls_.push_back("hold[" + arg + "]");
      ControlCommands::answer(r, arg == "BAD" ? Status(Error::permanent("BAD: no such message"))
                                              : okStatus());
    });
  }
  std::string send(const std::string& line) {
    std::string answer;
    commands_.handle(line, [&answer](std::string a) { answer = std::move(a); });
    return answer;
  }
  ControlCommands commands_;
  std::vector<std::string> calls_;
};

TEST_F(ControlCommandsTest, RoutesTheCommandWithItsTrimmedArgument) {
  EXPECT_EQ(send("  hold   4XyZ12  \r"), "ok\n");
  EXPECT_EQ(send("flush"), "ok\n");
  EXPECT_EQ(calls_, (std::vector<std::string>{"hold[4XyZ12]", "flush[]"}));
}

TEST_F(ControlCommandsTest, AnErrorStatusBecomesAnErrorLine) {
  EXPECT_EQ(send("hold BAD"), "error: BAD: no such message\n");
}

TEST_F(ControlCommandsTest, UnknownCommandsAndMissingArgumentsAreRefused) {
  EXPECT_EQ(send("launch rockets"), "error: unknown command 'launch rockets'\n");
  EXPECT_EQ(send("hold"), "error: unknown command 'hold'\n");
  EXPECT_EQ(send(""), "error: unknown command ''\n");
  EXPECT_TRUE(calls_.empty());
}

}  // namespace
}  // namespace petrel::server
