// The control socket's commands (`petrel queue ...`, `petrel reload`, docs/operations.md): a
// table from the command word to its handler, so each family of commands registers itself in
// one place and the serve process only routes lines to it.
//
// Protocol: one line "<command> [argument]"; the answer starts with "ok" or "error: <why>" on
// its own line, followed by the payload.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "petrel/core/result.h"
#include "petrel/server/request_server.h"

namespace petrel::server {

class Dashboard;
class QueueManager;

class ControlCommands {
 public:
  using Respond = RequestServer::Respond;
  // `arg` is the rest of the line after the command word, trimmed (maybe empty).
  using Handler = std::function<void(const std::string& arg, Respond respond)>;

  // `needs_argument`: the line without one is an unknown command, as before.
  void add(std::string name, bool needs_argument, Handler handler);
  void handle(const std::string& request, Respond respond) const;

  // The usual answers.
  static void fail(const Respond& respond, const std::string& why);
  static void answer(const Respond& respond, const Status& status);  // "ok" or the error

 private:
  struct Entry {
    bool needs_argument = false;
    Handler handler;
  };
  std::map<std::string, Entry, std::less<>> commands_;
};

// list, list-json, show, delete, shape, shape-json, flush, hold, release, retry: the operator's
// commands on the queue (`petrel queue`), answered by `qmgr` and the dashboard's queue shape.
void addQueueCommands(ControlCommands& commands, QueueManager& qmgr, Dashboard& dashboard);

}  // namespace petrel::server
