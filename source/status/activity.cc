// ActivityLog; see status/activity.h.
#include "petrel/status/activity.h"

#include <algorithm>
#include <cctype>

namespace petrel::status {

namespace {

bool containsNoCase(std::string_view text, std::string_view what) {
  auto it = std::search(text.begin(), text.end(), what.begin(), what.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != text.end();
}

}  // namespace

std::string boundedField(std::string_view s, size_t max) {
  std::string out(s.substr(0, max));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = '?';
  }
  return out;
}

void ActivityLog::add(ActivityEntry e) {
  for (std::string* f : {&e.kind, &e.id, &e.sender, &e.address, &e.client, &e.reason, &e.text}) {
    if (f->size() > MaxField || std::any_of(f->begin(), f->end(), [](char c) {
          return static_cast<unsigned char>(c) < 32 || c == 127;
        })) {
      *f = boundedField(*f);
    }
  }
  entries_.push_back(std::move(e));
  while (entries_.size() > capacity_) entries_.pop_front();
}

std::vector<ActivityEntry> ActivityLog::latest(std::string_view query, size_t limit) const {
  std::vector<ActivityEntry> out;
  for (auto it = entries_.rbegin(); it != entries_.rend() && out.size() < limit; ++it) {
    if (!query.empty() && !containsNoCase(it->id, query) && !containsNoCase(it->sender, query) &&
        !containsNoCase(it->address, query) && !containsNoCase(it->client, query)) {
      continue;
    }
    out.push_back(*it);
  }
  return out;
}

}  // namespace petrel::status
