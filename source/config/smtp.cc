// The `smtp:` section: bare line endings, VRFY, the banner (which goes on the wire, so it may
// hold no control characters), the client name lookup and the greet pause (0 or a duration).
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadSmtp(const Section& top, Config& c) {
  const Field* f = top.find("smtp");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"bare_line_endings", "vrfy", "banner", "peername_lookup", "greet_pause"});
  if (const Field* b = s.find("bare_line_endings")) {
    constexpr std::string_view Expected = "reject or normalize";
    if (auto v = scalar(*b, Expected)) {
      if (*v == "reject") {
        c.smtp.bare_line_endings = BareLineEnding::Reject;
      } else if (*v == "normalize") {
        c.smtp.bare_line_endings = BareLineEnding::Normalize;
      } else {
        report(*b, fmt::format("expected {}, got '{}'", Expected, *v));
      }
    }
  }
  setBool(s, "vrfy", c.smtp.vrfy);
  setBool(s, "peername_lookup", c.smtp.peername_lookup);
  if (const Field* b = s.find("banner")) {
    if (auto v = text(*b)) {
      // It goes on the wire after "220 "; a CR or LF would inject a line.
      if (v->empty()) {
        report(*b, "must not be empty (leave it out for the default)");
      } else if (hasControlChars(*v)) {
        report(*b, "must not contain control characters");
      } else {
        c.smtp.banner = *v;
      }
    }
  }
  if (const Field* g = s.find("greet_pause")) {
    c.smtp.greet_pause = greetPause(*g).value_or(c.smtp.greet_pause);
  }
}

// 0 (off) or a duration; whole seconds, as postscreen_greet_wait.
std::optional<uint64_t> Loader::greetPause(const Field& f) {
  if (f.value.IsScalar() && f.value.Scalar() == "0") {
    return 0;
  }
  return duration(f);
}

}  // namespace petrel::config::detail
