// qshape's table; see status/queue_shape.h.
#include "petrel/status/queue_shape.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "petrel/core/strings.h"

namespace petrel::status {

namespace {

std::string domainOf(const std::string& address) {
  size_t at = address.rfind('@');
  std::string d = at == std::string::npos ? std::string() : address.substr(at + 1);
  for (char& c : d) c = char(std::tolower(static_cast<unsigned char>(c)));
  return d.empty() ? "(local)" : d;
}

void count(ShapeRow& row, size_t bucket) {
  ++row.total;
  ++row.buckets[bucket];
}

}  // namespace

std::vector<std::string> shapeLabels() {
  std::vector<std::string> out;
  for (auto limit : ShapeLimits) out.push_back(std::to_string(limit));
  out.push_back(fmt::format("{}+", ShapeLimits.back()));
  return out;
}

size_t shapeBucket(int64_t age_seconds) {
  for (size_t i = 0; i < ShapeLimits.size(); ++i) {
    if (age_seconds < ShapeLimits[i] * 60) return i;
  }
  return ShapeBuckets - 1;
}

std::vector<ShapeTable> queueShape(const std::vector<ShapeMessage>& messages, int64_t now,
                                   const std::vector<std::string>& queues, size_t max_domains) {
  std::vector<ShapeTable> out;
  for (const auto& q : queues) {
    ShapeRow total;
    total.domain = "TOTAL";
    std::map<std::string, ShapeRow> by_domain;
    for (const auto& m : messages) {
      if (m.queue != q) continue;
      size_t b = shapeBucket(now - m.arrival);
      for (const auto& r : m.recipients) {
        std::string d = domainOf(r);
        ShapeRow& row = by_domain[d];
        row.domain = d;
        count(row, b);
        count(total, b);
      }
    }
    std::vector<ShapeRow> rows;
    for (auto& [d, row] : by_domain) rows.push_back(std::move(row));
    std::stable_sort(rows.begin(), rows.end(),
                     [](const ShapeRow& a, const ShapeRow& b) { return a.total > b.total; });
    if (rows.size() > max_domains) rows.resize(max_domains);
    ShapeTable t;
    t.queue = q;
    t.rows.push_back(std::move(total));
    for (auto& r : rows) t.rows.push_back(std::move(r));
    out.push_back(std::move(t));
  }
  return out;
}

std::string shapeText(const std::vector<ShapeTable>& tables) {
  auto labels = shapeLabels();
  std::string out;
  for (const auto& t : tables) {
    // Column widths: the label or the widest count, plus a space; the domain column is as
    // wide as its longest name, right-justified as qshape prints it.
    size_t name_width = 5;
    for (const auto& r : t.rows) name_width = std::max(name_width, r.domain.size());
    std::vector<size_t> width(ShapeBuckets + 1);
    width[0] = 1;
    for (size_t i = 0; i < ShapeBuckets; ++i) width[i + 1] = labels[i].size();
    for (const auto& r : t.rows) {
      width[0] = std::max(width[0], std::to_string(r.total).size());
      for (size_t i = 0; i < ShapeBuckets; ++i) {
        width[i + 1] = std::max(width[i + 1], std::to_string(r.buckets[i]).size());
      }
    }
    out += fmt::format("queue: {}\n", t.queue);
    out += fmt::format("{:>{}} {:>{}}", "", name_width, "T", width[0]);
    for (size_t i = 0; i < ShapeBuckets; ++i) out += fmt::format(" {:>{}}", labels[i], width[i + 1]);
    out += "\n";
    for (const auto& r : t.rows) {
      out += fmt::format("{:>{}} {:>{}}", r.domain, name_width, r.total, width[0]);
      for (size_t i = 0; i < ShapeBuckets; ++i) {
        out += fmt::format(" {:>{}}", r.buckets[i], width[i + 1]);
      }
      out += "\n";
    }
    out += "\n";
  }
  return out;
}

std::string shapeJson(const std::vector<ShapeTable>& tables) {
  std::string out = "{\"buckets\":[";
  auto labels = shapeLabels();
  for (size_t i = 0; i < labels.size(); ++i) out += fmt::format("{}\"{}\"", i ? "," : "", labels[i]);
  out += "],\"queues\":[";
  for (size_t k = 0; k < tables.size(); ++k) {
    const auto& t = tables[k];
    out += fmt::format("{}{{\"queue\":\"{}\",\"rows\":[", k ? "," : "", jsonEscape(t.queue));
    for (size_t j = 0; j < t.rows.size(); ++j) {
      const auto& r = t.rows[j];
      out += fmt::format("{}{{\"domain\":\"{}\",\"total\":{},\"buckets\":[{}]}}", j ? "," : "",
                         jsonEscape(r.domain), r.total, fmt::join(r.buckets, ","));
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

}  // namespace petrel::status
