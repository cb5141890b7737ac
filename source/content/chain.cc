// The content pass on receipt; see chain.h.
#include "petrel/content/chain.h"

#include <algorithm>
#include <unordered_set>

namespace petrel::content {

ContentChain::ContentChain(std::vector<std::unique_ptr<ContentStage>> stages,
                           smtp::BodySink& store, ChainLimits limits)
    : stages_(std::move(stages)), store_(&store), section_(limits.max_header_bytes) {
  edits_body_.reserve(stages_.size());
  for (const auto& stage : stages_) edits_body_.push_back(stage->editsBody());
  edit_buffers_.resize(stages_.size());
}

bool ContentChain::mayRefuse() const {
  return std::any_of(stages_.begin(), stages_.end(),
                     [](const auto& s) { return s->mayRefuse(); });
}

void ContentChain::append(std::string_view content) {
  if (!section_.complete()) {
    size_t taken = section_.feed(content);
    content.remove_prefix(taken);
    if (!section_.complete()) return;
    headerComplete();
  }
  if (content.empty()) return;
  passBody(content, 0);
}

void ContentChain::passBody(std::string_view content, size_t from) {
  for (size_t i = from; i < stages_.size(); ++i) {
    if (!edits_body_[i]) {
      stages_[i]->onBody(content);
      continue;
    }
    // The later stages and the store get what this one gives out; its buffer is not touched
    // again until they return (they use only the buffers after it).
    std::string& out = edit_buffers_[i];
    out.clear();
    stages_[i]->editBody(content, out);
    if (!out.empty()) passBody(out, i + 1);
    return;
  }
  written_octets_ += content.size();
  store_->append(content);
}

// The content ended: what the editing stages held back goes on, the first stage's first (it
// passes through the later ones, which may still hold some of it).
void ContentChain::flushBodies() {
  if (flushed_) return;
  flushed_ = true;
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (!edits_body_[i]) continue;
    std::string& out = edit_buffers_[i];
    out.clear();
    stages_[i]->flushBody(out);
    if (!out.empty()) passBody(out, i + 1);
  }
}

void ContentChain::headerComplete() {
  HeaderEdits edits;
  for (auto& stage : stages_) stage->onHeader(section_.fields(), edits);
  std::string text = applyHeaderEdits(section_.fields(), edits, section_.rest());
  written_header_octets_ = text.size();
  written_octets_ += text.size();
  store_->append(text);
  // A line that ended the section without being the empty line is body for the stages (it
  // went to the store with the section: an editing stage sees it as onBody, unedited).
  if (const std::string& rest = section_.rest(); !rest.empty() && rest != "\r\n") {
    for (auto& stage : stages_) stage->onBody(rest);
  }
}

void ContentChain::finish(std::vector<Recipient>& recipients, std::function<void(End)> done) {
  if (!section_.complete()) {
    section_.end();
    headerComplete();
  }
  flushBodies();
  recipients_ = &recipients;
  end_done_ = std::move(done);
  endStage(0);
}

// Stage `index` ends, then the next; a stage that answers at once recurses (the chain is a
// handful of stages deep).
void ContentChain::endStage(size_t index) {
  if (index == stages_.size()) return ended();
  stages_[index]->onEndAsync(*recipients_, end_edits_,
                             [this, index](std::optional<smtp::Reply> refusal) {
                               if (refusal) {
                                 End end;
                                 end.refusal = std::move(refusal);
                                 end.logged = end_edits_.logged;
                                 auto done = std::move(end_done_);
                                 return done(std::move(end));
                               }
                               endStage(index + 1);
                             });
}

void ContentChain::ended() {
  End end;
  EndEdits& edits = end_edits_;
  std::vector<Recipient>& recipients = *recipients_;
  for (const std::string& gone : edits.remove_recipients) {
    std::erase_if(recipients, [&gone](const Recipient& r) { return r.address == gone; });
  }
  for (Recipient& r : edits.add_recipients) recipients.push_back(std::move(r));
  removeDuplicates(recipients);
  end.hold = std::move(edits.hold);
  end.discard = std::move(edits.discard);
  end.filter = std::move(edits.filter);
  end.sender = std::move(edits.sender);
  end.logged = edits.logged;
  if (edits.body) {
    // The body replaced: the message is written anew (header edits and top fields included).
    end.replaced_octets = written_octets_;
    end.header = applyHeaderEdits(section_.fields(), edits.header, "\r\n") + *edits.body;
  } else if (!edits.header.replace.empty() || !edits.header.remove.empty()) {
    end.replaced_octets = written_header_octets_;
    end.header = applyHeaderEdits(section_.fields(), edits.header, section_.rest());
  } else {
    for (const std::string& f : edits.header.prepend) end.top_fields += f;
  }
  auto done = std::move(end_done_);
  done(std::move(end));
}

ContentChain::End ContentChain::finish(std::vector<Recipient>& recipients) {
  std::optional<End> answered;
  finish(recipients, [&answered](End end) { answered = std::move(end); });
  if (answered) return std::move(*answered);
  end_done_ = [](End) {};  // a late answer must not reach `answered`, gone with this frame
  End waiting;
  waiting.refusal = smtp::Reply(451, "4.3.0", "Error: content check did not answer");
  return waiting;
}

std::string applyHeaderEdits(std::vector<HeaderField>& fields, const HeaderEdits& edits,
                             std::string_view rest) {
  // Indexes refer to the section as it was; mark first, then rebuild once.
  std::vector<bool> removed(fields.size(), false);
  for (const auto& [index, field] : edits.replace) {
    if (index < fields.size()) fields[index].raw = field;
  }
  for (size_t index : edits.remove) {
    if (index < fields.size()) removed[index] = true;
  }
  std::vector<HeaderField> out;
  out.reserve(edits.prepend.size() + fields.size());
  for (const std::string& f : edits.prepend) {
    out.push_back(HeaderField{f.substr(0, f.find(':')), f});
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!removed[i]) out.push_back(std::move(fields[i]));
  }
  fields = std::move(out);
  std::string text;
  for (const HeaderField& f : fields) text += f.raw;
  text += rest;
  return text;
}

void removeDuplicates(std::vector<Recipient>& recipients) {
  std::unordered_set<std::string> seen;
  std::erase_if(recipients, [&seen](const Recipient& r) { return !seen.insert(r.address).second; });
}

}  // namespace petrel::content
