// `petrel` subcommands. The queue commands talk to the running server over its control
// socket (<state_dir>/control.sock, mode 0600), so they need the same --config. `table query`
// reads the tables itself, through the same lookup registry the server uses.
#include "petrel/cli/cli.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/delivery/router.h"
#include "petrel/server/config_checks.h"
#include "petrel/server/server.h"

#include "arc_command.h"
#include "checks_command.h"
#include "command_support.h"
#include "dkim_command.h"
#include "doctor_command.h"
#include "probe_commands.h"
#include "sendmail_command.h"
#include "sieve_command.h"
#include "user_command.h"

namespace petrel::cli {

const char* const Usage = R"(usage: petrel COMMAND [--config FILE]

commands:
  serve                    run the mail server in the foreground
  check-config             validate the configuration; errors as file:line:column
  queue list [--json]      list queued messages (like mailq)
  queue show ID            show one message: envelope, state and content
  queue delete ID|ALL      remove messages from the queue
  queue flush              retry every deferred message now
  queue hold ID            keep a message from being delivered
  queue release ID         let a held message be delivered again
  queue retry ID           try one deferred message now (like postqueue -i)
  queue shape [--json]     the queue by recipient domain and age (like qshape)
  reload                   reload the configuration (like SIGHUP)
  user add NAME            add a user to the credentials database (auth.credentials_db)
  user passwd NAME         set a user's password
  user del NAME            remove a user
                           (the password comes from stdin when it is not a terminal, one
                           line; otherwise it is asked twice with echo off; never in argv)
  user admin NAME on|off   let a user log in to the status endpoint (status.login) or not
  table query NAME KEY     what a table answers for KEY, like postmap -q: NAME is a table
                           under tables: or a reference such as cidr:/etc/petrel/clients;
                           KEY is used as given (the server looks up lower-case addresses).
                           Exit 0 with the value, 1 not found, 75 temporary failure
                           (unreadable file), 78 configuration problem
  route ADDRESS [--from SENDER] [--client IP] [--auth USER] [--helo NAME]
        [--listener NAME] [--json]
                           what the server would do with mail to ADDRESS, step by step:
                           the restriction that decides (and where its set is configured),
                           aliases, the Maildir or the next hop and TLS policy. Exit 0 when
                           RCPT would be accepted, 1 when refused (4xx or 5xx), 78 config
  policy test [--client IP] [--helo NAME] [--from SENDER] --to RCPT [--to RCPT...]
        [--auth USER] [--listener NAME]
                           the verdict of each SMTP stage for such a session, from the
                           server's own checks with live DNS: which check of which list
                           decided (with its file:line), every DNS query with its answer,
                           and each policy service's request and reply (they are asked).
                           Exit 0 when DATA would be accepted, 1 when refused, 78 config
  spf check --ip IP --sender ADDR [--helo NAME] [--json]
                           the SPF result (RFC 7208) for mail from ADDR sent by IP, with live
                           DNS (dns.servers): the deciding term, the explanation, the chain
                           of records and every lookup. An empty ADDR or <> checks the HELO
                           identity (postmaster@NAME). Exit 0 pass, 1 any other result,
                           75 temperror, 78 config
  checks test FILE         run the configured header and body checks (checks:) over a
                           message file (- for standard input) and print each action and
                           what end of data would do. Exit 0 accepted, 1 refused or
                           discarded, 78 config
  dkim keygen --domain D --selector S [--algorithm rsa|ed25519] [--bits N] [--out FILE]
                           a new DKIM key (RSA 2048 bits by default) written to FILE (mode
                           0600, never over an existing file; default S.D.key) and the TXT
                           record to publish at S._domainkey.D
  dkim verify FILE         verify the DKIM signatures of a message (live DNS, dns.servers);
                           one Authentication-Results entry per signature. Exit 0 when all
                           pass, 1 otherwise, 75 temperror, 78 config
  dkim sign FILE --domain D --selector S --key K [--algorithm rsa-sha256|ed25519-sha256]
                           print the message with a DKIM-Signature on top
  arc verify FILE          validate the ARC chain of a message (RFC 8617; live DNS,
                           dns.servers): cv=, each instance's seal and message signature.
                           Exit 0 pass, 1 none or fail, 75 temperror, 78 config
  arc seal FILE --domain D --selector S --key K --authserv-id H [--algorithm A]
        [--headers h1:h2]  validate the chain and print the message with ARC Set N+1 on top
                           (the Authentication-Results of H, with arc= added when missing)
  dmarc send-reports       queue the DMARC aggregate reports of every recorded row now
                           (dmarc.reports; the server otherwise sends them daily)
  dmarc check --from-domain D | --from 'FIELD BODY' [--spf RESULT --spf-domain S]
        [--dkim RESULT:DOMAIN ...] [--percent N] [--json]
                           the DMARC result (RFC 7489) for mail from D with those SPF and
                           DKIM results, with live DNS and dmarc.public_suffix_list: the
                           record and where it was found, the organizational domain, the
                           alignment, the disposition and Petrel's action (N fixes pct's
                           random sample, 0-99). Exit 0 pass, 1 any other result,
                           75 temperror, 78 config
  doctor [--json] [--domain D]
                           check the setup, one line per check with its fix: MX, A/AAAA and
                           PTR of the host, SPF, DKIM and DMARC records of each local domain,
                           the certificates, DNS lists, the listeners, an open-relay
                           self-test, the directories, the DNS and table servers
                           (docs/doctor.md). Exit 0 all pass, 1 a warning, 2 a failure
  sieve check FILE         compile a Sieve script; errors as FILE:line:column (exit 1)
  sieve test SCRIPT MESSAGE [--from S] [--to R] [--delimiter D] [--global-dir DIR]
                           the actions the script takes for the message, one a line
                           (docs/sieve.md); exit 2 on a run-time error (implicit keep)
  sendmail [FLAGS] [RCPT...]
                           submit a message from standard input as sendmail(1) does
                           (-t -i -f -F -N -R -V -B -bs -bp -q; docs/sendmail.md); also as
                           `sendmail`, `mailq` and `newaliases` through a symlink. Exit 0
                           when queued or left in the maildrop, 64 usage, 69 refused, 75
                           cannot queue now
  mailq                    the queue, as `queue list` (sendmail -bp)
  version                  print the version

--config FILE defaults to /etc/petrel/petrel.yaml.
)";

namespace {

constexpr const char* DefaultConfig = "/etc/petrel/petrel.yaml";

}  // namespace

int sendmailMain(const std::string& name, const std::vector<std::string>& args) {
  return sendmailCommand(name, args, "");
}

int run(int argc, char** argv) {
  std::vector<std::string> args;
  std::string config_path = DefaultConfig;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    // sendmail's flags are its own (-h, -c, -C...): everything after the word is passed on.
    if (args.empty() && (a == "sendmail" || a == "mailq" || a == "newaliases")) {
      return sendmailCommand(a, std::vector<std::string>(argv + i + 1, argv + argc),
                             config_path == DefaultConfig ? "" : config_path);
    }
    if (a == "--config" || a == "-c") {
      if (i + 1 >= argc) {
        fmt::print(stderr, "petrel: --config needs a file\n");
        return 2;
      }
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--help" || a == "-h") {
      fmt::print("{}", Usage);
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) {
    fmt::print(stderr, "{}", Usage);
    return 2;
  }
  const std::string& cmd = args[0];
  if (cmd == "version") {
    fmt::print("petrel {}\n", PETREL_VERSION);
    return 0;
  }
  if (cmd == "serve" && args.size() == 1) return server::serve(config_path);
  if (cmd == "check-config" && args.size() == 1) {
    auto loaded = config::loadConfig(config_path, server::standardValidators());
    if (loaded.errors.empty()) {
      std::vector<std::string> warnings;
      delivery::Router router(*loaded.config,
                              [&warnings](const std::string& w) { warnings.push_back(w); });
      for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
      loaded.errors = delivery::checkPostmaster(*loaded.config, router);
    }
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.toString());
    if (!loaded.errors.empty()) {
      fmt::print(stderr, "petrel: {} error{} in {}\n", loaded.errors.size(),
                 loaded.errors.size() == 1 ? "" : "s", config_path);
      return 1;
    }
    fmt::print("petrel: configuration {} is valid\n", loaded.config->source_file);
    return 0;
  }
  if (cmd == "reload" && args.size() == 1) return control(config_path, "reload");
  if (cmd == "user" && args.size() == 3 &&
      (args[1] == "add" || args[1] == "passwd" || args[1] == "del")) {
    return userCommand(config_path, args[1], args[2]);
  }
  if (cmd == "user" && args.size() == 4 && args[1] == "admin" &&
      (args[3] == "on" || args[3] == "off")) {
    return userAdminCommand(config_path, args[2], args[3] == "on");
  }
  if (cmd == "route" && args.size() >= 2) return routeCommand(config_path, args);
  if (cmd == "policy" && args.size() >= 2 && args[1] == "test") {
    return policyTestCommand(config_path, args);
  }
  if (cmd == "spf" && args.size() >= 2 && args[1] == "check") {
    return spfCheckCommand(config_path, args);
  }
  if (cmd == "arc") return arcCommand(config_path, config_path == DefaultConfig, args);
  if (cmd == "sieve") return sieveCommand(args);
  if (cmd == "doctor") return doctorCommand(config_path, args);
  if (cmd == "checks") return checksCommand(config_path, args);
  if (cmd == "dkim") return dkimCommand(config_path, config_path == DefaultConfig, args);
  if (cmd == "dmarc" && args.size() == 2 && args[1] == "send-reports") {
    return control(config_path, "dmarc-reports");
  }
  if (cmd == "dmarc" && args.size() >= 2 && args[1] == "check") {
    return dmarcCheckCommand(config_path, args);
  }
  if (cmd == "table" && args.size() == 4 && args[1] == "query") {
    return tableQueryCommand(config_path, args[2], args[3]);
  }
  if (cmd == "auth-test" && args.size() == 2) {
    return authTestCommand(config_path, args[1], "127.0.0.1");
  }
  if (cmd == "auth-test" && args.size() == 4 && args[2] == "--client-ip") {
    return authTestCommand(config_path, args[1], args[3]);
  }
  if (cmd == "queue" && args.size() >= 2) {
    const std::string& sub = args[1];
    if (sub == "list" && args.size() == 2) return control(config_path, "list");
    if (sub == "list" && args.size() == 3 && args[2] == "--json") {
      return control(config_path, "list-json");
    }
    if (sub == "flush" && args.size() == 2) return control(config_path, "flush");
    if (sub == "shape" && args.size() == 2) return control(config_path, "shape");
    if (sub == "shape" && args.size() == 3 && args[2] == "--json") {
      return control(config_path, "shape-json");
    }
    if ((sub == "show" || sub == "delete" || sub == "hold" || sub == "release" ||
         sub == "retry") &&
        args.size() == 3) {
      return control(config_path, sub + " " + args[2]);
    }
  }
  fmt::print(stderr, "{}", Usage);
  return 2;
}

}  // namespace petrel::cli