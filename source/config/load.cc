// Drives the loader: reads the file, guards against what yaml-cpp does badly (a second
// document, inputs it loops on, deep nesting), walks the top-level keys in the order their
// references need (tables before anything that names one), runs the areas' validators and
// merges every problem into one list sorted by position. Never throws.
//
// The sections themselves are in the files of their names (listeners.cc, tables.cc, ...).
#include <fmt/format.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "loader.h"
#include "petrel/core/strings.h"

namespace petrel::config {
namespace detail {

namespace {

std::string systemHostname() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return std::string(name.data());
}

}  // namespace

Config Loader::load(const YAML::Node& root, const YAML::Mark& root_mark) {
  Config c;
  c.mail_root = DefaultMailRoot;
  c.state_dir = DefaultStateDir;
  c.status.address = Endpoint{"127.0.0.1", DefaultStatusPort};

  Section top(reporter_, root, root_mark, "");
  if (!top.isMapping()) {
    return c;
  }
  top.allowOnly({"hostname",     "mail_root", "state_dir", "workers",  "listeners",
                 "domains",      "tables",    "mailboxes", "aliases",  "recipient_delimiter",
                 "canonical",    "limits",    "tls",       "auth",     "relay",
                 "restrictions", "smtp",      "queue",     "delivery", "dns",
                 "status",       "log",       "policy_service", "greylisting",
                 "restriction_classes", "dkim", "dmarc",
                 "checks", "filters", "transports", "srs", "arc", "doctor"});
  loadHostname(top, c);
  setPath(top, "mail_root", c.mail_root);
  setPath(top, "state_dir", c.state_dir);
  loadWorkers(top, c);
  loadTables(top, c);  // before anything that refers to a table
  loadListeners(top, c);
  loadDomains(top, c);
  loadMailboxes(top, c);
  loadAliases(top, c);
  loadRecipientDelimiter(top, c);
  loadCanonical(top, c);
  loadLimits(top, c);
  loadTls(top, c);
  loadAuth(top, c);  // after state_dir and tables
  loadRelay(top, c);
  loadRestrictions(top, c);  // the listeners' set names are checked by finish()
  loadSmtp(top, c);
  loadQueue(top, c);
  loadTransports(top, c);
  loadDelivery(top, c);  // after transports (delivery.transport names one)
  loadDns(top, c);
  loadStatus(top, c);
  loadLog(top, c);
  loadPolicyService(top, c);
  loadGreylisting(top, c);  // after state_dir
  loadDkim(top, c);
  loadArc(top, c);
  loadDmarc(top, c);        // after state_dir and hostname
  loadChecks(top, c);       // after tables
  loadFilters(top, c);
  loadSrs(top, c);
  loadDoctor(top, c);
  if (c.smtp.banner.empty()) {
    c.smtp.banner = fmt::format("{} ESMTP Petrel", c.hostname);
  }
  return c;
}

void Loader::loadHostname(const Section& top, Config& c) {
  c.hostname = systemHostname();
  const Field* f = top.find("hostname");
  if (f == nullptr) {
    return;
  }
  if (auto v = text(*f)) {
    if (looksLikeDomain(*v)) {
      c.hostname = *v;
    } else {
      report(*f, fmt::format("'{}' is not a valid host name", *v));
    }
  }
}

void Loader::loadWorkers(const Section& top, Config& c) {
  const Field* f = top.find("workers");
  if (f == nullptr) {
    return;
  }
  constexpr std::string_view Expected = "'auto' or a number from 1 to 64";
  auto s = scalar(*f, Expected);
  if (!s) {
    return;
  }
  if (iequals(*s, "auto")) {
    c.workers = 0;
    return;
  }
  auto n = parseUnsigned(*s);
  if (!n || *n < 1 || *n > MaxWorkers) {
    report(*f, fmt::format("expected {}, got '{}'", Expected, *s));
    return;
  }
  c.workers = static_cast<uint32_t>(*n);
}

}  // namespace detail

namespace {

using namespace detail;

// Sees only where documents start; the parse that builds nodes is YAML::Load's.
class DocumentProbe : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> starts;
};

// YAML::Load() parses the first document and silently drops whatever follows it, and
// YAML::LoadAll() loops forever on some broken input (a stray ',' at the top level yields an
// empty document without being consumed). So we look for a second document ourselves, and
// never ask for a third. Returns false when the text cannot be read as YAML at all.
bool checkSingleDocument(const std::string& yaml, Reporter& reporter) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  DocumentProbe probe;
  if (!parser.HandleNextDocument(probe) || !parser.HandleNextDocument(probe) ||
      probe.starts.size() < 2) {
    return true;
  }
  const YAML::Mark& first = probe.starts[0];
  const YAML::Mark& second = probe.starts[1];
  if (second.pos == first.pos) {  // the parser is stuck: nothing was consumed
    size_t pos = static_cast<size_t>(std::max(second.pos, 0));
    reporter.add(second, pos < yaml.size() ? fmt::format("syntax error: unexpected '{}'", yaml[pos])
                                           : std::string("syntax error"));
    return false;
  }
  reporter.add(second, "a second YAML document starts here; only one is allowed per file");
  return true;
}

// Reads a whole file; the error text is strerror's.
std::optional<std::string> readFile(const std::string& path, std::string& error) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  std::array<char, 8192> chunk{};
  size_t n = 0;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), file)) > 0) {
    text.append(chunk.data(), n);
  }
  bool failed = std::ferror(file) != 0;
  int saved = errno;
  std::fclose(file);
  if (failed) {
    error = std::strerror(saved);
    return std::nullopt;
  }
  return text;
}

// Runs each validator over the parsed config; a validator that throws (it should not) is
// reported rather than let through the loader's never-throws promise.
std::vector<ConfigError> runValidators(const Config& c, const std::vector<Validator>& validators) {
  std::vector<ConfigError> found;
  for (const Validator& validate : validators) {
    try {
      validate(c, found);
    } catch (const std::exception& e) {
      found.push_back({c.source_file, fmt::format("cannot check: {}", e.what())});
    }
  }
  return found;
}

}  // namespace

LoadResult loadConfigFromString(const std::string& yaml, const std::string& name,
                                const std::string& base_dir,
                                const std::vector<Validator>& validators) {
  Reporter reporter(name);
  std::optional<Config> config;
  try {
    YAML::Node root = YAML::Load(yaml);
    if (!checkSingleDocument(yaml, reporter)) {
      return LoadResult{std::nullopt, reporter.errors()};
    }
    // An empty file has no document and its null node no mark; report missing keys at 1:1.
    YAML::Mark root_mark = root.Mark().is_null() ? YAML::Mark() : root.Mark();
    std::error_code ec;
    fs::path base = fs::absolute(base_dir, ec);
    Loader loader(reporter, ec ? fs::path(base_dir) : base.lexically_normal());
    config = loader.load(root, root_mark);
    config->source_file = name;
    // Also when the loader found problems, so that one run names them all.
    std::vector<ConfigError> found = runValidators(*config, validators);
    for (const ConfigError& e : found) {
      reporter.add(e);
    }
    loader.finish(*config, found);
  } catch (const YAML::DeepRecursion& e) {
    reporter.add(e.mark, "syntax error: nested too deeply");  // its own msg says "bad file"
  } catch (const YAML::ParserException& e) {
    reporter.add(e.mark, fmt::format("syntax error: {}", e.msg));
  } catch (const YAML::Exception& e) {
    reporter.add(e.mark, e.msg);
  } catch (const std::exception& e) {
    reporter.add(YAML::Mark::null_mark(), fmt::format("cannot load: {}", e.what()));
  } catch (...) {
    reporter.add(YAML::Mark::null_mark(), "cannot load: unknown error");
  }
  if (!reporter.empty()) {
    return LoadResult{std::nullopt, reporter.errors()};
  }
  return LoadResult{std::move(config), {}};
}
LoadResult loadConfig(const std::string& path, const std::vector<Validator>& validators) {
  try {
    std::string error;
    std::optional<std::string> text = readFile(path, error);
    if (!text) {
      return LoadResult{std::nullopt, {{path, fmt::format("cannot read: {}", error)}}};
    }
    std::error_code ec;
    fs::path absolute = fs::absolute(path, ec).lexically_normal();
    if (ec) {
      return LoadResult{std::nullopt, {{path, fmt::format("cannot read: {}", ec.message())}}};
    }
    LoadResult result =
        loadConfigFromString(*text, path, absolute.parent_path().string(), validators);
    if (result.config) {
      result.config->source_file = absolute.string();
    }
    return result;
  } catch (const std::exception& e) {
    return LoadResult{std::nullopt, {{path, fmt::format("cannot load: {}", e.what())}}};
  }
}

}  // namespace petrel::config
