// The `petrel` command line: serve, check-config, queue ..., table query, user ..., version.
#pragma once

#include <string>
#include <vector>

namespace petrel::cli {

int run(int argc, char** argv);

// The binary called as `sendmail`, `mailq` or `newaliases` (`name`), with its arguments.
int sendmailMain(const std::string& name, const std::vector<std::string>& args);

}  // namespace petrel::cli
