// The dashboard's web pieces that need no socket: HTTP request heads parsed (method, path,
// query, a few header fields), the CSRF token and its check, HTML escaping, the page frame and
// inline SVG charts. Everything shown on a page goes through htmlEscape (addresses and
// replies come from the Internet); the pages use no script and no asset from outside.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::status {

// &, <, >, " and ' as entities; control characters (but tab and newline) as U+FFFD-free '?'.
std::string htmlEscape(std::string_view s);
// %XX and '+' decoded (application/x-www-form-urlencoded).
std::string urlDecode(std::string_view s);
// For query values in links: everything but unreserved characters as %XX.
std::string urlEncode(std::string_view s);

struct HttpRequest {
  std::string method;  // "GET", "HEAD", "POST"
  std::string path;    // without the query
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names in lower case
};
// nullopt when malformed (not "METHOD /path HTTP/1.x", or a method other than GET, HEAD and
// POST). The head is bounded by the caller (the status endpoint reads at most 8 KiB).
std::optional<HttpRequest> parseHttpRequest(std::string_view head);

// 32 hex digits from the kernel's random source, made once per process.
std::string newCsrfToken();
// A POST carries the page's token in its query (`csrf=`, the forms put it there) or in an
// X-CSRF-Token header field; compared in constant time. An empty expected token matches
// nothing.
bool csrfAllowed(const HttpRequest& request, std::string_view token);

// The page around `body`: title, the navigation (Traffic, Queue, Activity, Health; `current`
// is one of "traffic", "queue", "activity", "health") and an inline style sheet.
std::string htmlPage(std::string_view title, std::string_view current, std::string_view body);

struct ChartSeries {
  std::string name;
  std::string color;  // CSS colour, from the code (never from input)
  std::vector<uint64_t> values;
};
// A line chart as inline SVG: one polyline per series over equally spaced points, the y axis
// from 0 to the largest value, `left` and `right` the labels under the ends of the x axis.
std::string svgChart(std::string_view title, const std::vector<ChartSeries>& series,
                     std::string_view left, std::string_view right);

}  // namespace petrel::status
