// HTTP heads, CSRF, HTML and SVG for the dashboard; see status/web.h.
#include "petrel/status/web.h"

#include <fmt/format.h>
#include <sys/random.h>

#include <algorithm>
#include <cctype>

#include "petrel/core/strings.h"

namespace petrel::status {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool sameConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

constexpr std::string_view Style =
    "body{font-family:sans-serif;margin:0;color:#222;background:#fafafa}"
    "nav{background:#234;padding:8px 16px}nav a{color:#dde;margin-right:18px;"
    "text-decoration:none}nav a.on{color:#fff;font-weight:bold}main{padding:8px 16px}"
    "table{border-collapse:collapse;margin:6px 0 14px}td,th{border:1px solid #ccc;"
    "padding:2px 6px;font-size:13px}th{background:#eee}td.n{text-align:right}"
    "svg{background:#fff;border:1px solid #ccc;margin:4px 8px 8px 0}"
    "form.inline{display:inline;margin:0}button{font-size:12px}.legend span{margin-right:12px}";

}  // namespace

std::string htmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if ((static_cast<unsigned char>(c) < 32 && c != '\t' && c != '\n') || c == 127) {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string urlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() + 0 && hexValue(s[i + 1]) >= 0 &&
               hexValue(s[i + 2]) >= 0) {
      out += char(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string urlEncode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::optional<HttpRequest> parseHttpRequest(std::string_view head) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  HttpRequest r;
  r.method = std::string(line.substr(0, sp1));
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if ((r.method != "GET" && r.method != "HEAD" && r.method != "POST") || target.empty() ||
      target[0] != '/' || !version.starts_with("HTTP/1.")) {
    return std::nullopt;
  }
  size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    for (auto pair : split(target.substr(q + 1), '&')) {
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      std::string key = urlDecode(pair.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : urlDecode(pair.substr(eq + 1));
      r.query.emplace(std::move(key), std::move(value));
    }
  }
  if (eol != std::string_view::npos) {
    for (auto field : split(head.substr(eol + 2), '\n')) {
      size_t colon = field.find(':');
      if (colon == std::string_view::npos) continue;
      r.headers[lower(trim(field.substr(0, colon)))] = std::string(trim(field.substr(colon + 1)));
    }
  }
  return r;
}

std::string newCsrfToken() {
  unsigned char bytes[16] = {};
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return {};  // no token: every POST is refused
    }
    got += size_t(n);
  }
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

bool csrfAllowed(const HttpRequest& request, std::string_view token) {
  if (token.empty()) return false;
  if (auto it = request.query.find("csrf"); it != request.query.end()) {
    return sameConstantTime(it->second, token);
  }
  if (auto it = request.headers.find("x-csrf-token"); it != request.headers.end()) {
    return sameConstantTime(it->second, token);
  }
  return false;
}

std::string htmlPage(std::string_view title, std::string_view current, std::string_view body) {
  std::string nav;
  for (auto [id, label, href] : {std::tuple{"traffic", "Traffic", "/"},
                                 {"queue", "Queue", "/dash/queue"},
                                 {"activity", "Activity", "/dash/activity"},
                                 {"health", "Health", "/dash/health"}}) {
    nav += fmt::format("<a href=\"{}\"{}>{}</a>", href, current == id ? " class=\"on\"" : "",
                       label);
  }
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} - Petrel"
      "</title><style>{}</style></head>\n<body><nav>{}</nav><main>\n<h1>{}</h1>\n{}</main>"
      "</body></html>\n",
      htmlEscape(title), Style, nav, htmlEscape(title), body);
}

std::string svgChart(std::string_view title, const std::vector<ChartSeries>& series,
                     std::string_view left, std::string_view right) {
  constexpr int W = 600, H = 160, Pad = 30;
  uint64_t top = 1;
  size_t points = 0;
  for (const auto& s : series) {
    points = std::max(points, s.values.size());
    for (auto v : s.values) top = std::max(top, v);
  }
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\">"
      "<title>{}</title><text x=\"{}\" y=\"14\" font-size=\"12\">{}</text>"
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/>"
      "<text x=\"2\" y=\"{}\" font-size=\"10\">{}</text><text x=\"2\" y=\"{}\" "
      "font-size=\"10\">0</text>",
      W, H + 20, htmlEscape(title), Pad, htmlEscape(title), Pad, H, W - 4, H, Pad + 4, top, H);
  for (const auto& s : series) {
    if (s.values.empty()) continue;
    std::string pts;
    for (size_t i = 0; i < s.values.size(); ++i) {
      double x = Pad + (points > 1 ? double(i) * (W - Pad - 4) / double(points - 1) : 0);
      double y = H - double(s.values[i]) * (H - Pad) / double(top);
      pts += fmt::format("{}{:.1f},{:.1f}", i ? " " : "", x, y);
    }
    out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\">"
                       "<title>{}</title></polyline>",
                       htmlEscape(s.color), pts, htmlEscape(s.name));
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">{}</text>", Pad, H + 14,
                     htmlEscape(left));
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
                     W - 4, H + 14, htmlEscape(right));
  out += "</svg>";
  return out;
}

}  // namespace petrel::status
