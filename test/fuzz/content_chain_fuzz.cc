// libFuzzer target for the content pass (source/content/: HeaderSection, ContentChain).
//
// Input: byte 0 picks the header limit and the chunk size, the rest is message content. The
// content is fed in chunks through a chain with one stage that edits nothing, then again with
// a stage that prepends a field and deletes the first one. Besides crashes and sanitizer
// reports it aborts when:
//   - without edits, the stored bytes differ from the input (nothing may be lost or changed);
//   - the stage's view of the header plus the body it saw is not the stored message;
//   - with edits, the stored message does not start with the prepended field, or is not the
//     input without the first field's bytes (when there was one);
//   - behind a stage that edits the body stream but changes nothing (it holds each line back
//     until its end, the rest until flushBody), the stored bytes or what a later stage saw
//     differ from the input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "petrel/content/chain.h"

namespace {

using namespace petrel;
using namespace petrel::content;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "content_chain_fuzz: %s\n", what);
  std::abort();
}

struct Store : smtp::BodySink {
  std::string data;
  void append(std::string_view b) override { data.append(b); }
};

struct Watcher : ContentStage {
  bool edit = false;
  std::string header, body, first_field;
  void onHeader(const std::vector<HeaderField>& fields, HeaderEdits& edits) override {
    for (const auto& f : fields) header += f.raw;
    if (!fields.empty()) first_field = fields[0].raw;
    if (edit) {
      edits.prepend.push_back("X-Fuzz: 1\r\n");
      if (!fields.empty()) edits.remove.push_back(0);
    }
  }
  void onBody(std::string_view b) override { body.append(b); }
};

// Edits the body stream without changing it: each line is held until its line end.
struct LineHolder : ContentStage {
  std::string held;
  bool editsBody() const override { return true; }
  void editBody(std::string_view b, std::string& out) override {
    held.append(b);
    size_t nl = held.rfind('\n');
    if (nl == std::string::npos) return;
    out.append(held, 0, nl + 1);
    held.erase(0, nl + 1);
  }
  void flushBody(std::string& out) override {
    out += held;
    held.clear();
  }
};

std::string run(std::string_view input, size_t limit, size_t chunk, bool edit, Watcher*& out,
                bool holder = false) {
  Store store;
  std::vector<std::unique_ptr<ContentStage>> stages;
  if (holder) stages.emplace_back(new LineHolder);
  auto* w = new Watcher;
  w->edit = edit;
  stages.emplace_back(w);
  ContentChain chain(std::move(stages), store, ChainLimits{limit});
  for (size_t i = 0; i < input.size(); i += chunk) chain.append(input.substr(i, chunk));
  std::vector<Recipient> rcpts;
  chain.finish(rcpts);
  // `w` lives as long as the chain; copy what the checks need before it goes.
  static Watcher copy;
  copy.header = w->header;
  copy.body = w->body;
  copy.first_field = w->first_field;
  out = &copy;
  return store.data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t limit = 16 + (data[0] & 0x0f) * 64;
  size_t chunk = 1 + (data[0] >> 4) * 7;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  Watcher* seen = nullptr;
  std::string plain = run(input, limit, chunk, false, seen);
  if (plain != input) fail("the stored message differs from the input");
  std::string header = seen->header, first = seen->first_field, body = seen->body;
  // What the stage saw as fields is the stored message's beginning.
  if (plain.compare(0, header.size(), header) != 0) fail("fields are not the message's start");
  std::string edited = run(input, limit, chunk, true, seen);
  std::string expect = "X-Fuzz: 1\r\n" + std::string(input.substr(first.size()));
  if (edited != expect) fail("edits were not applied as given");
  std::string held = run(input, limit, chunk, false, seen, true);
  if (held != input) fail("behind a body-editing stage the stored message differs");
  if (seen->body != body) fail("behind a body-editing stage a later stage saw another body");
  return 0;
}
