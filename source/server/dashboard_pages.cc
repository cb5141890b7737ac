// The dashboard's pages, JSON and HTML from the same views; see dashboard_pages.h.
#include "dashboard_pages.h"

#include <fmt/format.h>

#include <tuple>

#include "petrel/core/strings.h"
#include "petrel/status/web.h"

namespace petrel::server::dashboard {

namespace {

using status::Counter;
using status::htmlEscape;

constexpr size_t FirstRejected = size_t(Counter::RejectedRelay);
constexpr size_t LastRejected = size_t(Counter::RejectedOther);

uint64_t rejectedSum(const status::Counts& c) {
  uint64_t n = 0;
  for (size_t i = FirstRejected; i <= LastRejected; ++i) n += c[i];
  return n;
}

std::string countsJson(const status::Counts& c) {
  std::string out = "{";
  for (size_t i = 0; i < status::CounterCount; ++i) {
    out += fmt::format("{}\"{}\":{}", i ? "," : "", status::counterName(Counter(i)), c[i]);
  }
  return out + fmt::format(",\"rejected\":{}}}", rejectedSum(c));
}

std::string timeText(int64_t t) { return formatLocalTime(t, "%Y-%m-%d %H:%M"); }

// The page labels of the counters: what mailgraph's legend says, in words.
std::string counterLabel(Counter c) {
  std::string name(status::counterName(c));
  for (char& ch : name) {
    if (ch == '_') ch = ' ';
  }
  return name;
}

}  // namespace

std::string trafficJson(const TrafficView& v) {
  std::string out = fmt::format(
      "{{\"now\":{},\"since_start\":{{\"received\":{},\"delivered\":{},\"deferred\":{},"
      "\"bounced\":{},\"rejected\":{}}},\"archives\":[",
      v.now, v.received, v.delivered, v.deferred, v.bounced, v.rejected);
  for (size_t a = 0; a < status::ArchiveCount; ++a) {
    const auto& spec = status::archives()[a];
    out += fmt::format("{}{{\"name\":\"{}\",\"step\":{},\"totals\":{},\"points\":[", a ? "," : "",
                       spec.name, spec.step, countsJson(v.totals[a]));
    // Slots with no traffic are left out: the JSON stays small; a reader fills the gaps.
    bool first = true;
    for (const auto& p : v.series[a]) {
      bool any = false;
      for (auto n : p.counts) any |= n != 0;
      if (!any) continue;
      out += fmt::format("{}{{\"start\":{},\"counts\":{}}}", first ? "" : ",", p.start,
                         countsJson(p.counts));
      first = false;
    }
    out += "]}";
  }
  return out + "]}\n";
}

std::string trafficHtml(const TrafficView& v) {
  std::string body = "<h2>Since start</h2><table><tr>";
  const std::array<std::pair<const char*, uint64_t>, 5> since = {{{"received", v.received},
                                                                  {"delivered", v.delivered},
                                                                  {"deferred", v.deferred},
                                                                  {"bounced", v.bounced},
                                                                  {"rejected", v.rejected}}};
  for (const auto& [name, _] : since) body += fmt::format("<th>{}</th>", name);
  body += "</tr><tr>";
  for (const auto& [name, n] : since) {
    body += fmt::format("<td class=\"n\" id=\"since-{}\">{}</td>", name, n);
  }
  body += "</tr></table>\n<h2>Totals per window</h2><table><tr><th></th>";
  for (const auto& spec : status::archives()) body += fmt::format("<th>last {}</th>", spec.name);
  body += "</tr>";
  for (size_t i = 0; i < status::CounterCount; ++i) {
    auto name = status::counterName(Counter(i));
    body += fmt::format("<tr><th>{}</th>", counterLabel(Counter(i)));
    for (size_t a = 0; a < status::ArchiveCount; ++a) {
      body += fmt::format("<td class=\"n\" id=\"{}-{}\">{}</td>", status::archives()[a].name, name,
                          v.totals[a][i]);
    }
    body += "</tr>";
  }
  body += "<tr><th>rejected (all reasons)</th>";
  for (size_t a = 0; a < status::ArchiveCount; ++a) {
    body += fmt::format("<td class=\"n\" id=\"{}-rejected\">{}</td>", status::archives()[a].name,
                        rejectedSum(v.totals[a]));
  }
  body += "</tr></table>\n<p class=\"legend\"><span style=\"color:#2a7\">received</span>"
          "<span style=\"color:#27c\">sent (delivered + relayed)</span><span style=\"color:#c72"
          "\">deferred</span><span style=\"color:#a2a\">bounced</span><span style=\"color:#d22"
          "\">rejected</span></p>\n";
  for (size_t a = 0; a < status::ArchiveCount; ++a) {
    const auto& spec = status::archives()[a];
    std::vector<status::ChartSeries> s = {{"received", "#2a7", {}},
                                          {"sent", "#27c", {}},
                                          {"deferred", "#c72", {}},
                                          {"bounced", "#a2a", {}},
                                          {"rejected", "#d22", {}}};
    for (const auto& p : v.series[a]) {
      s[0].values.push_back(p.counts[size_t(Counter::Received)]);
      s[1].values.push_back(p.counts[size_t(Counter::Delivered)] +
                            p.counts[size_t(Counter::Relayed)]);
      s[2].values.push_back(p.counts[size_t(Counter::Deferred)]);
      s[3].values.push_back(p.counts[size_t(Counter::Bounced)]);
      s[4].values.push_back(rejectedSum(p.counts));
    }
    std::string left = v.series[a].empty() ? "" : timeText(v.series[a].front().start);
    body += status::svgChart(fmt::format("Last {} (messages per {} s)", spec.name, spec.step), s,
                             left, timeText(v.now));
    body += "\n";
  }
  return status::htmlPage("Traffic", "traffic", body);
}

std::string queueJson(const QueueView& v) {
  std::string shape = status::shapeJson(v.shape);
  if (!shape.empty() && shape.back() == '\n') shape.pop_back();
  std::string out = fmt::format("{{\"now\":{},\"messages_total\":{},\"shape\":{},\"messages\":[",
                                v.now, v.total_messages, shape);
  for (size_t i = 0; i < v.messages.size(); ++i) {
    const auto& m = v.messages[i];
    out += fmt::format(
        "{}{{\"id\":\"{}\",\"queue\":\"{}\",\"sender\":\"{}\",\"arrival\":{},\"size\":{},"
        "\"recipients\":[",
        i ? "," : "", jsonEscape(m.id), m.queue, jsonEscape(m.sender), m.arrival, m.size);
    for (size_t k = 0; k < m.recipients.size(); ++k) {
      const auto& r = m.recipients[k];
      out += fmt::format("{}{{\"address\":\"{}\",\"attempts\":{},\"next_attempt\":{},"
                         "\"last_reply\":\"{}\"}}",
                         k ? "," : "", jsonEscape(r.address), r.attempts, r.next_attempt,
                         jsonEscape(r.last_reply));
    }
    out += "]}";
  }
  return out + "]}\n";
}

std::string queueHtml(const QueueView& v, const std::string& csrf_token) {
  std::string body;
  auto labels = status::shapeLabels();
  for (const auto& t : v.shape) {
    body += fmt::format("<h2>qshape {}</h2><table id=\"shape-{}\"><tr><th></th><th>T</th>",
                        htmlEscape(t.queue), htmlEscape(t.queue));
    for (const auto& l : labels) body += fmt::format("<th>{}</th>", l);
    body += "</tr>";
    for (const auto& r : t.rows) {
      body += fmt::format("<tr><th>{}</th><td class=\"n\">{}</td>", htmlEscape(r.domain),
                          r.total);
      for (auto n : r.buckets) body += fmt::format("<td class=\"n\">{}</td>", n);
      body += "</tr>";
    }
    body += "</table>\n";
  }
  body += fmt::format("<h2>Messages ({} queued{})</h2>\n", v.total_messages,
                      v.messages.size() < v.total_messages
                          ? fmt::format(", the oldest {} shown", v.messages.size())
                          : "");
  body += "<table id=\"messages\"><tr><th>Queue ID</th><th>queue</th><th>arrival</th>"
          "<th>size</th><th>sender</th><th>recipients and last reply</th><th>actions</th></tr>";
  for (const auto& m : v.messages) {
    std::string rcpts;
    for (const auto& r : m.recipients) {
      rcpts += htmlEscape(r.address);
      if (r.attempts > 0) {
        rcpts += fmt::format(" ({} attempt{}, next {})", r.attempts, r.attempts == 1 ? "" : "s",
                             timeText(r.next_attempt));
      }
      if (!r.last_reply.empty()) rcpts += ": " + htmlEscape(r.last_reply);
      rcpts += "<br>";
    }
    std::string actions;
    for (const char* a : {"hold", "release", "retry", "delete"}) {
      actions += fmt::format(
          "<form class=\"inline\" method=\"post\" action=\"/dash/queue/{}?id={}&amp;csrf={}\">"
          "<button type=\"submit\">{}</button></form> ",
          a, status::urlEncode(m.id), status::urlEncode(csrf_token), a);
    }
    body += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td></tr>\n",
        htmlEscape(m.id), m.queue, timeText(m.arrival), m.size,
        htmlEscape(m.sender.empty() ? "<>" : m.sender), rcpts, actions);
  }
  body += "</table>\n";
  return status::htmlPage("Queue", "queue", body);
}

std::string activityJson(const ActivityView& v) {
  std::string out = fmt::format("{{\"query\":\"{}\",\"events\":[", jsonEscape(v.query));
  for (size_t i = 0; i < v.entries.size(); ++i) {
    const auto& e = v.entries[i];
    out += fmt::format(
        "{}{{\"time\":{},\"kind\":\"{}\",\"id\":\"{}\",\"sender\":\"{}\",\"address\":\"{}\","
        "\"client\":\"{}\",\"reason\":\"{}\",\"text\":\"{}\"}}",
        i ? "," : "", e.time, jsonEscape(e.kind), jsonEscape(e.id), jsonEscape(e.sender),
        jsonEscape(e.address), jsonEscape(e.client), jsonEscape(e.reason), jsonEscape(e.text));
  }
  return out + "]}\n";
}

std::string activityHtml(const ActivityView& v) {
  std::string body = fmt::format(
      "<form method=\"get\" action=\"/dash/activity\"><input name=\"q\" size=\"40\" value=\"{}\" "
      "placeholder=\"address, queue ID or client IP\"> <button type=\"submit\">search</button>"
      "</form>\n<table id=\"events\"><tr><th>time</th><th>event</th><th>Queue ID</th><th>from"
      "</th><th>to</th><th>client</th><th>reason</th><th>reply</th></tr>\n",
      htmlEscape(v.query));
  for (const auto& e : v.entries) {
    body += fmt::format(
        "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td></tr>\n",
        htmlEscape(e.kind), formatLocalTime(e.time, "%b %e %H:%M:%S"), htmlEscape(e.kind),
        htmlEscape(e.id), htmlEscape(e.sender), htmlEscape(e.address), htmlEscape(e.client),
        htmlEscape(e.reason), htmlEscape(e.text));
  }
  body += fmt::format("</table><p>{} event{} shown.</p>\n", v.entries.size(),
                      v.entries.size() == 1 ? "" : "s");
  return status::htmlPage("Activity", "activity", body);
}

std::string healthJson(const HealthView& v) {
  std::string out = fmt::format("{{\"now\":{},\"certificates\":[", v.now);
  for (size_t i = 0; i < v.certificates.size(); ++i) {
    const auto& c = v.certificates[i];
    out += fmt::format("{}{{\"description\":\"{}\",\"not_after\":{},\"days_left\":{}}}",
                       i ? "," : "", jsonEscape(c.description), c.not_after,
                       c.not_after ? (c.not_after - v.now) / 86400 : 0);
  }
  out += "],\"listeners\":[";
  for (size_t i = 0; i < v.listeners.size(); ++i) {
    const auto& l = v.listeners[i];
    out += fmt::format("{}{{\"name\":\"{}\",\"address\":\"{}\",\"tls\":\"{}\"}}", i ? "," : "",
                       jsonEscape(l.name), jsonEscape(l.address), jsonEscape(l.tls));
  }
  out += fmt::format("],\"status_address\":\"{}\",\"disks\":[", jsonEscape(v.status_address));
  for (size_t i = 0; i < v.disks.size(); ++i) {
    const auto& d = v.disks[i];
    out += fmt::format("{}{{\"what\":\"{}\",\"path\":\"{}\",\"known\":{},\"total_bytes\":{},"
                       "\"free_bytes\":{}}}",
                       i ? "," : "", d.what, jsonEscape(d.path), d.known ? "true" : "false",
                       d.total_bytes, d.free_bytes);
  }
  out += fmt::format("],\"queue\":{{\"messages\":{},\"oldest_age_seconds\":{:.3f}}}",
                     v.queue_messages, v.queue_oldest_age);
  // The reachability rows, then every finding of the last doctor run.
  for (const auto& [key, check] : {std::pair{"dns_servers", "dns-server"},
                                   std::pair{"table_servers", "table-server"}}) {
    out += fmt::format(",\"{}\":[", key);
    bool first = true;
    for (const auto& f : v.doctor) {
      if (f.check != check) continue;
      out += fmt::format("{}{{\"name\":\"{}\",\"reachable\":{},\"what\":\"{}\"}}",
                         first ? "" : ",", jsonEscape(f.subject),
                         f.verdict == doctor::Verdict::Pass ? "true" : "false",
                         jsonEscape(f.what));
      first = false;
    }
    out += "]";
  }
  std::string findings = doctor::reportJson(v.doctor);
  findings.pop_back();  // its newline
  findings.pop_back();  // its closing brace
  return out + fmt::format(",\"doctor\":{},\"time\":{},\"seconds\":{:.1f},\"running\":{}}}}}\n",
                           findings, v.doctor_time, v.doctor_seconds,
                           v.doctor_running ? "true" : "false");
}

namespace {

std::string doctorRows(const HealthView& v, std::string_view check, bool only) {
  std::string rows;
  for (const auto& f : v.doctor) {
    bool reachability = f.check == "dns-server" || f.check == "table-server";
    if (only ? f.check != check : reachability) continue;
    rows += fmt::format("<tr class=\"{0}\"><td>{0}</td><td>{1}</td><td>{2}</td><td>{3}</td>"
                        "<td>{4}</td></tr>",
                        doctor::verdictName(f.verdict), htmlEscape(f.check),
                        htmlEscape(f.subject), htmlEscape(f.what), htmlEscape(f.fix));
  }
  return rows;
}

std::string doctorHtml(const HealthView& v) {
  constexpr std::string_view Head =
      "<tr><th>result</th><th>check</th><th>what</th><th>found</th><th>fix</th></tr>";
  if (v.doctor_time == 0) {
    return fmt::format("<h2>Doctor</h2><p id=\"doctor-summary\">{}</p>\n",
                       v.doctor_running ? "the first run is in progress"
                                        : "no run yet (doctor.interval: 0 turns the server's "
                                          "runs off; petrel doctor runs the checks now)");
  }
  std::string body;
  for (const auto& [title, id, check] :
       {std::tuple{"DNS servers", "dns-servers", "dns-server"},
        std::tuple{"Table servers", "table-servers", "table-server"}}) {
    std::string rows = doctorRows(v, check, true);
    body += fmt::format("<h2>{}</h2><table id=\"{}\">{}{}</table>\n", title, id, Head,
                        rows.empty() ? "<tr><td colspan=\"5\">none</td></tr>" : rows);
  }
  int status = doctor::exitStatus(v.doctor);
  body += fmt::format("<h2>Doctor</h2><p id=\"doctor-summary\">{}: {} checks, {:.0f} s ago "
                      "(took {:.1f} s){}</p><table id=\"doctor\">{}",
                      doctor::verdictName(doctor::Verdict(status)), v.doctor.size(),
                      double(v.now - v.doctor_time), v.doctor_seconds,
                      v.doctor_running ? "; a new run is in progress" : "", Head);
  return body + doctorRows(v, "dns-server", false) + "</table>\n";
}

}  // namespace

std::string healthHtml(const HealthView& v) {
  std::string body = "<h2>Certificates</h2><table id=\"certificates\"><tr><th>certificate</th>"
                     "<th>days left</th></tr>";
  for (const auto& c : v.certificates) {
    body += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td></tr>", htmlEscape(c.description),
                        c.not_after ? std::to_string((c.not_after - v.now) / 86400) : "?");
  }
  if (v.certificates.empty()) body += "<tr><td colspan=\"2\">no listener uses TLS</td></tr>";
  body += "</table>\n<h2>Listeners</h2><table id=\"listeners\"><tr><th>name</th><th>address</th>"
          "<th>TLS</th></tr>";
  for (const auto& l : v.listeners) {
    body += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", htmlEscape(l.name),
                        htmlEscape(l.address), htmlEscape(l.tls));
  }
  body += fmt::format("<tr><td>status</td><td>{}</td><td>none</td></tr></table>\n",
                      htmlEscape(v.status_address));
  body += "<h2>Disk space</h2><table id=\"disks\"><tr><th></th><th>path</th><th>free</th>"
          "<th>size</th></tr>";
  for (const auto& d : v.disks) {
    if (!d.known) {
      body += fmt::format("<tr><th>{}</th><td>{}</td><td colspan=\"2\">unknown</td></tr>", d.what,
                          htmlEscape(d.path));
      continue;
    }
    body += fmt::format("<tr><th>{}</th><td>{}</td><td class=\"n\">{:.1f} GiB ({:.0f}%)</td>"
                        "<td class=\"n\">{:.1f} GiB</td></tr>",
                        d.what, htmlEscape(d.path), double(d.free_bytes) / (1 << 30),
                        d.total_bytes ? 100.0 * double(d.free_bytes) / double(d.total_bytes) : 0,
                        double(d.total_bytes) / (1 << 30));
  }
  body += fmt::format("</table>\n<h2>Queue</h2><p id=\"queue-summary\">{} message{}, the oldest "
                      "{:.0f} s old</p>\n",
                      v.queue_messages, v.queue_messages == 1 ? "" : "s", v.queue_oldest_age);
  body += doctorHtml(v);
  return status::htmlPage("Health", "health", body);
}

}  // namespace petrel::server::dashboard
