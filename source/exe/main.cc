// petrel: entry point; everything else is in the library so tests can link it. Called as
// sendmail, mailq or newaliases (a symlink), it is that command (docs/sendmail.md).
#include <string>
#include <vector>

#include "petrel/cli/cli.h"

int main(int argc, char** argv) {
  std::string name = argc > 0 ? argv[0] : "petrel";
  name = name.substr(name.rfind('/') + 1);
  if (name == "sendmail" || name == "mailq" || name == "newaliases") {
    return petrel::cli::sendmailMain(name, std::vector<std::string>(argv + 1, argv + argc));
  }
  return petrel::cli::run(argc, argv);
}
