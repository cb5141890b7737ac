// The control socket's command table and the queue commands on it (`petrel queue`): the text
// and JSON listings of the queue are made here, the state they show is QueueManager's.
#include "petrel/server/control_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <utility>
#include <vector>

#include "petrel/core/strings.h"
#include "petrel/server/dashboard.h"
#include "petrel/server/queue_manager.h"

namespace petrel::server {

namespace {


// mailq's arrival time: "Sun Nov 22 22:07:56".
std::string formatTime(int64_t unix_seconds) {
  return formatLocalTime(unix_seconds, "%a %b %e %H:%M:%S");
}

std::string queueJson(const std::vector<queue::StoredMessage>& all) {
  std::string out = "[";
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& m = all[i];
    if (i > 0) out += ",";
    out += fmt::format(
        "\n{{\"id\":\"{}\",\"arrival\":{},\"sender\":\"{}\",\"size\":{},\"held\":{},"
        "\"client\":\"{}\",\"recipients\":[",
        m.id, m.arrival_us / 1000000, jsonEscape(m.sender), m.size, m.held ? "true" : "false",
        jsonEscape(m.client));
    for (size_t k = 0; k < m.recipients.size(); ++k) {
      const auto& r = m.recipients[k];
      out += fmt::format(
          "{}{{\"address\":\"{}\",\"orig_address\":\"{}\",\"status\":\"{}\",\"attempts\":{},"
          "\"next_attempt\":{},\"last_error\":\"{}\"}}",
          k > 0 ? "," : "", jsonEscape(r.address), jsonEscape(r.orig_address),
          r.attempts > 0 ? "deferred" : "pending", r.attempts, r.next_attempt,
          jsonEscape(r.last_error));
    }
    out += "]}";
  }
  out += all.empty() ? "]\n" : "\n]\n";
  return out;
}

// mailq-style listing.
std::string queueText(const std::vector<queue::StoredMessage>& all) {
  if (all.empty()) return "Mail queue is empty\n";
  std::string out = "-Queue ID-    --Size-- ----Arrival Time---- -Sender/Recipient-------\n";
  uint64_t bytes = 0;
  for (const auto& m : all) {
    bytes += m.size;
    out += fmt::format("{:<12}{} {:>8} {:<20}  {}\n", m.id, m.held ? "!" : " ", m.size,
                       formatTime(m.arrival_us / 1000000),
                       m.sender.empty() ? "MAILER-DAEMON" : m.sender);
    for (const auto& r : m.recipients) {
      if (!r.last_error.empty()) out += fmt::format("{:45}({})\n", "", r.last_error);
      out += fmt::format("{:45}{}\n", "", r.address);
    }
    out += "\n";
  }
  out += fmt::format("-- {} Kbytes in {} Request{}.\n", (bytes + 1023) / 1024, all.size(),
                     all.size() == 1 ? "" : "s");
  return out;
}

}  // namespace

void ControlCommands::add(std::string name, bool needs_argument, Handler handler) {
  commands_[std::move(name)] = Entry{needs_argument, std::move(handler)};
}

void ControlCommands::handle(const std::string& request, Respond respond) const {
  std::string line(trim(request));
  size_t sp = line.find(' ');
  std::string cmd = line.substr(0, sp);
  std::string arg = sp == std::string::npos ? "" : std::string(trim(line.substr(sp + 1)));
  auto it = commands_.find(cmd);
  if (it == commands_.end() || (it->second.needs_argument && arg.empty())) {
    return fail(respond, fmt::format("unknown command '{}'", line));
  }
  it->second.handler(arg, std::move(respond));
}

void ControlCommands::fail(const Respond& respond, const std::string& why) {
  respond(fmt::format("error: {}\n", why));
}

void ControlCommands::answer(const Respond& respond, const Status& status) {
  if (status) {
    respond("ok\n");
  } else {
    fail(respond, status.error().message());
  }
}

void addQueueCommands(ControlCommands& commands, QueueManager& qmgr, Dashboard& dashboard) {
  auto list = [&qmgr](bool json) {
    return [&qmgr, json](const std::string&, ControlCommands::Respond respond) {
      qmgr.list([respond, json](Result<std::vector<queue::StoredMessage>> r) {
        if (!r) return ControlCommands::fail(respond, r.error().message());
        respond("ok\n" + (json ? queueJson(*r) : queueText(*r)));
      });
    };
  };
  commands.add("list", false, list(false));
  commands.add("list-json", false, list(true));
  commands.add("show", true, [&qmgr](const std::string& id, ControlCommands::Respond respond) {
    qmgr.show(id, [respond](Result<queue::StoredMessage> r) {
      if (!r) return ControlCommands::fail(respond, r.error().message());
      std::string out = "ok\n" + queueJson({*r});
      out += "--- recipients ---\n";
      int64_t now = int64_t(time(nullptr));
      for (const auto& rc : r->recipients) {
        if (rc.attempts == 0) {
          out += fmt::format("{}: pending, not tried yet\n", rc.address);
          continue;
        }
        out += fmt::format("{}: deferred, {} attempt{}, next attempt {} (in {} s)\n", rc.address,
                           rc.attempts, rc.attempts == 1 ? "" : "s",
                           formatTime(rc.next_attempt), std::max<int64_t>(0, rc.next_attempt - now));
        if (!rc.last_error.empty()) out += fmt::format("  last: {}\n", rc.last_error);
      }
      out += "--- message ---\n";
      if (!r->spool_path.empty()) {
        out += r->header_prefix;
        out += fmt::format("(the rest in spool file {})\n", r->spool_path);
      } else {
        out += r->body;
      }
      respond(out);
    });
  });
  commands.add("delete", true, [&qmgr](const std::string& id, ControlCommands::Respond respond) {
    qmgr.remove(id, [respond](Result<size_t> r) {
      if (!r) return ControlCommands::fail(respond, r.error().message());
      respond(fmt::format("ok\n{} message{} deleted\n", *r, *r == 1 ? "" : "s"));
    });
  });
  auto shape = [&dashboard](bool json) {
    return [&dashboard, json](const std::string&, ControlCommands::Respond respond) {
      dashboard.shape(json, [respond](Result<std::string> r) {
        r ? respond("ok\n" + *r) : ControlCommands::fail(respond, r.error().message());
      });
    };
  };
  commands.add("shape", false, shape(false));
  commands.add("shape-json", false, shape(true));
  commands.add("flush", false, [&qmgr](const std::string&, ControlCommands::Respond respond) {
    qmgr.flush();
    respond("ok\n");
  });
  using Change = void (QueueManager::*)(const std::string&, std::function<void(Status)>);
  for (auto [name, change] : {std::pair<const char*, Change>{"hold", &QueueManager::hold},
                              {"release", &QueueManager::release},
                              {"retry", &QueueManager::retry}}) {
    commands.add(name, true,
                 [&qmgr, change](const std::string& id, ControlCommands::Respond respond) {
                   (qmgr.*change)(id, [respond](Status st) {
                     ControlCommands::answer(respond, st);
                   });
                 });
  }
}

}  // namespace petrel::server
