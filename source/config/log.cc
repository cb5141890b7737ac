// The `log:` section: the log file, the syslog name and debug logging.
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadLog(const Section& top, Config& c) {
  const Field* f = top.find("log");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"file", "syslog_name", "debug"});
  if (const Field* file = s.find("file"); file != nullptr && !file->value.IsNull()) {
    c.log.file = path(*file);
  }
  if (const Field* name = s.find("syslog_name")) {
    if (auto v = text(*name)) {
      if (v->empty() || hasControlChars(*v) || v->find(' ') != std::string::npos) {
        report(*name, fmt::format("expected a name without spaces, got '{}'", *v));
      } else {
        c.log.syslog_name = *v;
      }
    }
  }
  setBool(s, "debug", c.log.debug);
}

}  // namespace petrel::config::detail
