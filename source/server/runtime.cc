// Shared runtime state: snapshots, metrics, connection limits, queue ids.
#include "petrel/server/runtime.h"

#include <fmt/format.h>
#include <sys/time.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>

namespace petrel::server {

void Metrics::countRejection(const std::string& stage, int code, const std::string& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++rejections_[fmt::format("stage=\"{}\",code=\"{}\",status=\"{}\"", stage, code, status)];
}

void Metrics::countCheckRejection(std::string_view rule) {
  std::string_view name = rule.substr(0, rule.find(' '));
  std::lock_guard<std::mutex> lock(mutex_);
  ++by_check_[std::string(name)];
  if (name.starts_with("reject_rbl_") || name.starts_with("reject_rhsbl_")) {
    std::string_view list = rule.substr(std::min(rule.size(), name.size() + 1));
    ++by_dns_list_[std::string(list.substr(0, list.find('=')))];
  }
}

std::map<std::string, uint64_t> Metrics::checkRejections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_check_;
}

std::map<std::string, uint64_t> Metrics::dnsListRejections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_dns_list_;
}

std::map<std::string, uint64_t> Metrics::rejections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rejections_;
}

bool ConnectionLimiter::tryAcquire(const std::string& ip, uint32_t max_total,
                                   uint32_t max_per_client, std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (total_ >= max_total) {
    why = fmt::format("too many connections in total ({})", max_total);
    return false;
  }
  uint32_t& n = per_client_[ip];
  if (n >= max_per_client) {
    why = fmt::format("too many connections from {} ({})", ip, max_per_client);
    if (n == 0) per_client_.erase(ip);
    return false;
  }
  ++n;
  ++total_;
  return true;
}

void ConnectionLimiter::release(const std::string& ip) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = per_client_.find(ip);
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
  if (total_ > 0) --total_;
}

namespace {
constexpr int64_t AuthFailureWindow = 3600;

void prune(std::vector<int64_t>& v, int64_t now) {
  v.erase(v.begin(), std::find_if(v.begin(), v.end(),
                                  [now](int64_t t) { return t > now - AuthFailureWindow; }));
}
}  // namespace

uint32_t AuthFailures::record(const std::string& ip) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t now = int64_t(time(nullptr));
  auto& v = failures_[ip];
  prune(v, now);
  v.push_back(now);
  if (failures_.size() > 100000) failures_.clear();  // bounded memory under a spray of IPs
  return uint32_t(v.size());
}

uint32_t AuthFailures::count(const std::string& ip) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = failures_.find(ip);
  if (it == failures_.end()) return 0;
  prune(it->second, int64_t(time(nullptr)));
  return uint32_t(it->second.size());
}

Snapshot Runtime::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

void Runtime::install(Snapshot s) {
  std::lock_guard<std::mutex> lock(mutex_);
  current_ = std::move(s);
}

namespace {
constexpr int64_t IdEpochMicros = 1704067200LL * 1000000;  // 2024-01-01T00:00:00Z
std::atomic<int64_t> last_id{0};
}  // namespace

int64_t nowMicros() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return int64_t(tv.tv_sec) * 1000000 + tv.tv_usec;
}

void seedQueueIds(const std::string& highest_existing) {
  if (highest_existing.empty()) return;
  int64_t v = std::strtoll(highest_existing.c_str(), nullptr, 16);
  int64_t cur = last_id.load();
  while (v > cur && !last_id.compare_exchange_weak(cur, v)) {
  }
}

std::string nextQueueId() {
  int64_t now = nowMicros() - IdEpochMicros;
  int64_t prev = last_id.load();
  int64_t next;
  do {
    next = std::max(prev + 1, now);
  } while (!last_id.compare_exchange_weak(prev, next));
  return fmt::format("{:012X}", next & 0xFFFFFFFFFFFFLL);
}

}  // namespace petrel::server
