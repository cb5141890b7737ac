// Queue shape: Postfix qshape(1)'s table of the queue by recipient domain and age, for
// `petrel queue shape` and the dashboard's Queue page.
//
// As qshape: one row per recipient domain (recipients are counted, so a message with two
// recipients at a domain counts twice), a TOTAL row first, then domains by count; columns T
// (all), then geometric age buckets of 5 minutes doubling (a message younger than 5 minutes
// counts under "5", one of 5 to 10 minutes under "10", ..., 1280 minutes and older under
// "1280+"). One table per queue: active (Postfix's incoming and active: ready or being
// delivered), deferred and hold. Pure: the caller passes the messages and the time.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace petrel::status {

constexpr size_t ShapeBuckets = 10;
// Upper age limits in minutes; the last bucket has none.
constexpr std::array<int64_t, ShapeBuckets - 1> ShapeLimits = {5, 10, 20, 40, 80,
                                                               160, 320, 640, 1280};

struct ShapeMessage {
  std::string queue;  // "active", "deferred" or "hold"
  int64_t arrival = 0;  // unix seconds
  std::vector<std::string> recipients;  // addresses
};

struct ShapeRow {
  std::string domain;  // "TOTAL" for the first row
  uint64_t total = 0;
  std::array<uint64_t, ShapeBuckets> buckets{};
};

struct ShapeTable {
  std::string queue;
  std::vector<ShapeRow> rows;  // TOTAL first, then by count (descending), then name
};

// The bucket of an age in seconds (negative ages, a clock set back, count as new).
size_t shapeBucket(int64_t age_seconds);
// Tables for the queues named in `queues`, in that order; at most `max_domains` domain rows
// each (the TOTAL row counts every recipient).
std::vector<ShapeTable> queueShape(const std::vector<ShapeMessage>& messages, int64_t now,
                                   const std::vector<std::string>& queues = {"active", "deferred",
                                                                             "hold"},
                                   size_t max_domains = 100);
// qshape's text layout, each table under a "queue: NAME" line; right-justified columns.
std::string shapeText(const std::vector<ShapeTable>& tables);
// {"buckets":["5",...,"1280+"],"queues":[{"queue":"active","rows":[{"domain":..,"total":..,
// "buckets":[..]}]}]}
std::string shapeJson(const std::vector<ShapeTable>& tables);
// Column labels: "5", "10", ..., "1280", "1280+".
std::vector<std::string> shapeLabels();

}  // namespace petrel::status
