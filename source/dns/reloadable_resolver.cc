// ReloadableResolver; see reloadable_resolver.h.
//
// How a replaced resolver stays alive: each callback handed to the resolver in
// use captures a shared_ptr to it. The resolver keeps the callback while the
// query is in flight and drops it when the answer is delivered or the handle is
// destroyed (resolver.h: "the callback is dropped at once (and so is everything
// it captured)"), and that drops the last reference of a replaced resolver. The
// reference cycle this makes (resolver -> pending callback -> resolver) lasts
// exactly as long as the query, which is the point.
#include "petrel/dns/reloadable_resolver.h"

#include "petrel/core/assert.h"

namespace petrel::dns {

namespace {

class ClosedHandle final : public QueryHandle {};

}  // namespace

ReloadableResolver::ReloadableResolver(std::shared_ptr<Resolver> initial)
    : current_(std::move(initial)) {
  PETREL_ASSERT(current_ != nullptr);
}

ReloadableResolver::~ReloadableResolver() = default;

void ReloadableResolver::replace(std::shared_ptr<Resolver> next) {
  PETREL_ASSERT(next != nullptr);
  current_ = std::move(next);
}

void ReloadableResolver::close() { current_ = nullptr; }

QueryHandlePtr ReloadableResolver::query(std::string name, Type type, Callback done) {
  if (current_ == nullptr) return std::make_unique<ClosedHandle>();  // `done` is dropped here
  std::shared_ptr<Resolver> used = current_;
  Resolver &resolver = *used;
  return resolver.query(
      std::move(name), type,
      [used = std::move(used), done = std::move(done)](Answer a) { done(std::move(a)); });
}

ResolverStats ReloadableResolver::stats() const {
  return current_ != nullptr ? current_->stats() : ResolverStats{};
}

std::vector<std::string> ReloadableResolver::servers() const {
  return current_ != nullptr ? current_->servers() : std::vector<std::string>{};
}

}  // namespace petrel::dns
