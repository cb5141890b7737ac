// FakeResolver: a dns::Resolver for unit tests, answering from zone-file-like
// text, no sockets.
//
// It gives the answers the real resolver (source/dns/resolver.cc) gives for the
// same data: the same Answer statuses, record lists, canonical names and error
// texts, CNAMEs followed, names normalized and checked (a name that cannot
// exist is NxDomain without a query), a name with no record of the asked type
// but records of others, or names below it, is NoData. It records every query
// it was asked, and keeps the async rule of resolver.h: an answer is never
// delivered inside query(), only when the test calls runPending() (or, after
// deliverOn(dispatcher), from that dispatcher's loop); a destroyed handle drops
// its callback at once and it never runs.
//
// The zone text, one entry per line, `#` or `;` starts a comment:
//
//   NAME [TTL] TYPE DATA          TTL in seconds, default 300
//   example.org MX 10 mx.example.org
//   mx.example.org A 192.0.2.1
//   mx.example.org AAAA 2001:db8::1
//   example.org TXT "v=spf1 " "-all"      strings of one record are
//   concatenated 1.2.0.192.in-addr.arpa PTR mx.example.org www.example.org
//   example.org NS ns1.example.org           (answers Type::NS into Answer::ns)
//   CNAME mx.example.org NAME [TTL] NXDOMAIN           the name does not exist
//   (TTL: the negative TTL, default 0) NAME SERVFAIL | TIMEOUT       every
//   query for the name is a TempFail
//
// What it does not do: caching (each query is answered from the zone as it is
// then), wildcards, and the network's failures beyond SERVFAIL and TIMEOUT.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/dns/resolver.h"

namespace petrel::event {
class Dispatcher;
}

namespace petrel::dns {

class FakeResolver final : public Resolver {
 public:
  // Loads `zone`; a line that does not parse fails the running test
  // (ADD_FAILURE) and is skipped. Use load() to see the error instead.
  explicit FakeResolver(std::string_view zone = {});
  ~FakeResolver() override;

  // Adds the entries of `zone` (or of the file at `path`). Errors name the
  // line: "line 3: MX needs a preference and an exchange". Nothing of a zone
  // with an error is added.
  Status load(std::string_view zone);
  Status loadFile(const std::string &path);

  // From now on, answers are posted to `dispatcher` (on its loop) as they are
  // asked, instead of waiting for runPending(). `dispatcher` must outlive the
  // queries.
  void deliverOn(event::Dispatcher &dispatcher);

  // Delivers the answers waiting now, in the order they were asked, then those
  // the callbacks asked for meanwhile, until none is waiting. Returns how many
  // callbacks ran (cancelled queries are not counted). A callback may destroy
  // the fake; the rest then never run.
  size_t runPending();
  // Answers waiting for runPending() (cancelled ones not counted).
  size_t pending() const;

  // Every query asked, in order, as "NAME TYPE" with NAME normalized
  // ("example.org MX"). CNAME targets the fake followed are not queries of
  // their own.
  const std::vector<std::string> &queries() const { return queries_; }

  QueryHandlePtr query(std::string name, Type type, Callback done) override;
  ResolverStats stats() const override;               // only `queries` is counted
  std::vector<std::string> servers() const override;  // {"fake"}

  struct Entry;  // one line of the zone (defined in the .cc)

 private:
  struct Waiting;

  Answer answer(const std::string &name, Type type) const;
  const Entry *failure(const std::string &name) const;
  bool exists(const std::string &name) const;

  std::vector<Entry> entries_;
  std::vector<std::shared_ptr<Waiting>> waiting_;
  std::vector<std::string> queries_;
  event::Dispatcher *dispatcher_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
};

}  // namespace petrel::dns
