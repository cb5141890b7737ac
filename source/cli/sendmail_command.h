// `sendmail`, `mailq`, `newaliases` (argv[0], or `petrel sendmail ...`): docs/sendmail.md.
#pragma once

#include <string>
#include <vector>

namespace petrel::cli {

// `program`: "sendmail", "mailq" or "newaliases"; `args` after it; `config_path`: from
// `petrel --config`, else empty (then -C, $PETREL_CONFIG, /etc/petrel/petrel.yaml).
int sendmailCommand(const std::string& program, const std::vector<std::string>& args,
                    const std::string& config_path);

}  // namespace petrel::cli
