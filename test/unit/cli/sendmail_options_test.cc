// sendmail(1)'s command line as real callers write it (TEST-PEERS.md K).
#include "../../../source/cli/sendmail_options.h"

#include <gtest/gtest.h>

namespace petrel::cli {
namespace {

using Mode = SendmailOptions::Mode;

SendmailOptions parse(std::vector<std::string> args, const std::string& program = "sendmail") {
  SendmailParse p = parseSendmailArgs(args, program);
  EXPECT_TRUE(p.options) << p.error;
  return p.options.value_or(SendmailOptions{});
}

std::string error(std::vector<std::string> args) {
  SendmailParse p = parseSendmailArgs(args, "sendmail");
  EXPECT_FALSE(p.options);
  return p.error;
}

TEST(SendmailOptionsTest, PhpMail) {
  SendmailOptions o = parse({"-t", "-i"});
  EXPECT_TRUE(o.extract_recipients);
  EXPECT_TRUE(o.ignore_dots);
  EXPECT_EQ(o.mode, Mode::Deliver);
  EXPECT_TRUE(o.recipients.empty());
  EXPECT_FALSE(o.sender);
}

TEST(SendmailOptionsTest, PhpMailWithSender) {
  SendmailOptions o = parse({"-t", "-i", "-fwebmaster@example.org"});
  EXPECT_EQ(o.sender, "webmaster@example.org");
  o = parse({"-t", "-i", "-f", "<webmaster@example.org>"});
  EXPECT_EQ(o.sender, "webmaster@example.org");
  o = parse({"-r", "bounce@example.org", "bob"});
  EXPECT_EQ(o.sender, "bounce@example.org");
  EXPECT_EQ(o.recipients, std::vector<std::string>{"bob"});
}

TEST(SendmailOptionsTest, NullSender) {
  EXPECT_EQ(parse({"-f", "<>", "bob"}).sender, "");
  EXPECT_EQ(parse({"-f", "", "bob"}).sender, "");
}

TEST(SendmailOptionsTest, DebianCron) {
  SendmailOptions o = parse({"-i", "-FCronDaemon", "-B8BITMIME", "-oem", "alice"});
  EXPECT_TRUE(o.ignore_dots);
  EXPECT_EQ(o.full_name, "CronDaemon");
  EXPECT_EQ(o.body_type, "8BITMIME");
  EXPECT_EQ(o.recipients, std::vector<std::string>{"alice"});
}

TEST(SendmailOptionsTest, Cronie) {
  SendmailOptions o =
      parse({"-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"});
  EXPECT_TRUE(o.extract_recipients);
  EXPECT_EQ(o.sender, "root");
  EXPECT_EQ(o.full_name, "CronDaemon");
}

TEST(SendmailOptionsTest, MuttOptionsEndAtDoubleDash) {
  SendmailOptions o = parse({"-oem", "-oi", "--", "-bob@example.org", "carol@example.org"});
  EXPECT_TRUE(o.ignore_dots);
  EXPECT_EQ(o.recipients, (std::vector<std::string>{"-bob@example.org", "carol@example.org"}));
}

TEST(SendmailOptionsTest, OptionsEndAtTheFirstOperand) {
  // git send-email: sendmail -i -f sender rcpt...; a later "-t" is an address (Postfix's "+").
  SendmailOptions o = parse({"-i", "-f", "dev@example.org", "list@example.org", "-t"});
  EXPECT_EQ(o.recipients, (std::vector<std::string>{"list@example.org", "-t"}));
  EXPECT_FALSE(o.extract_recipients);
}

TEST(SendmailOptionsTest, OnlyOiSetsIgnoreDots) {
  EXPECT_FALSE(parse({"-oem", "bob"}).ignore_dots);
  EXPECT_FALSE(parse({"-odi", "bob"}).ignore_dots);
  EXPECT_TRUE(parse({"-o", "i", "bob"}).ignore_dots);
}

TEST(SendmailOptionsTest, CombinedFlags) {
  SendmailOptions o = parse({"-ti", "-Fx y"});
  EXPECT_TRUE(o.extract_recipients);
  EXPECT_TRUE(o.ignore_dots);
  EXPECT_EQ(o.full_name, "x y");
  // An option with an argument takes the rest of the word.
  o = parse({"-tfalice@example.org", "bob"});
  EXPECT_TRUE(o.extract_recipients);
  EXPECT_EQ(o.sender, "alice@example.org");
}

TEST(SendmailOptionsTest, Dsn) {
  SendmailOptions o = parse({"-N", "success,delay", "-R", "hdrs", "-V", "env42", "bob"});
  EXPECT_EQ(o.notify, "SUCCESS,DELAY");
  EXPECT_EQ(o.ret, "HDRS");
  EXPECT_EQ(o.envid, "env42");
  EXPECT_EQ(parse({"-Nnever", "bob"}).notify, "NEVER");
  EXPECT_NE(error({"-N", "never,success", "bob"}).find("-N"), std::string::npos);
  EXPECT_NE(error({"-N", "sometimes", "bob"}).find("-N"), std::string::npos);
  EXPECT_NE(error({"-R", "all", "bob"}).find("-R"), std::string::npos);
  EXPECT_NE(error({"-B", "binarymime", "bob"}).find("-B"), std::string::npos);
}

TEST(SendmailOptionsTest, Modes) {
  EXPECT_EQ(parse({"-bp"}).mode, Mode::Mailq);
  EXPECT_EQ(parse({"-bs"}).mode, Mode::Smtp);
  EXPECT_EQ(parse({"-bi"}).mode, Mode::Newaliases);
  EXPECT_EQ(parse({"-I"}).mode, Mode::Newaliases);
  EXPECT_EQ(parse({"-bm", "bob"}).mode, Mode::Deliver);
  EXPECT_EQ(parse({"-q"}).mode, Mode::Flush);
  EXPECT_EQ(parse({"-q30m"}).mode, Mode::Flush);
  EXPECT_EQ(parse({"-qRexample.org"}).mode, Mode::Flush);
  EXPECT_EQ(parse({}, "mailq").mode, Mode::Mailq);
  EXPECT_EQ(parse({}, "newaliases").mode, Mode::Newaliases);
  EXPECT_NE(error({"-bd"}).find("petrel serve"), std::string::npos);
  EXPECT_NE(error({"-bv", "bob"}).find("not supported"), std::string::npos);
}

TEST(SendmailOptionsTest, IgnoredOptionsAsPostfix) {
  SendmailOptions o = parse({"-L", "label", "-h", "30", "-n", "-U", "-m", "-G", "-c", "-x",
                             "-X", "/tmp/log", "-Ooption=v", "-e", "q", "-p", "smtp:x",
                             "-A", "c", "bob"});
  EXPECT_EQ(o.recipients, std::vector<std::string>{"bob"});
  EXPECT_TRUE(parse({"-v", "bob"}).verbose);
}

TEST(SendmailOptionsTest, ConfigFile) {
  EXPECT_EQ(parse({"-C", "/etc/petrel/other.yaml", "bob"}).config_path,
            "/etc/petrel/other.yaml");
}

TEST(SendmailOptionsTest, UsageErrors) {
  EXPECT_EQ(error({"-k", "bob"}), "illegal option -- k");
  EXPECT_EQ(error({"-f"}), "option requires an argument -- f");
}

}  // namespace
}  // namespace petrel::cli
