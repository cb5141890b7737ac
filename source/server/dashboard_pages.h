// The dashboard's pages as values and their two renderings: each page's data is one view
// struct, written as JSON for /api/... and as HTML (every value escaped) for the page, so the
// two always show the same numbers. Pure: no I/O, no clock. Internal to server/dashboard*.cc.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "petrel/doctor/checks.h"
#include "petrel/status/activity.h"
#include "petrel/status/queue_shape.h"
#include "petrel/status/time_series.h"

namespace petrel::server::dashboard {

struct TrafficView {
  int64_t now = 0;
  // Since the process started (the /metrics counters).
  uint64_t received = 0, delivered = 0, deferred = 0, bounced = 0, rejected = 0;
  std::array<status::Counts, status::ArchiveCount> totals{};
  std::array<std::vector<status::TrafficSeries::Point>, status::ArchiveCount> series;
};

struct QueueMessageView {
  std::string id, queue, sender;
  int64_t arrival = 0;
  uint64_t size = 0;
  struct Recipient {
    std::string address, last_reply;
    int64_t attempts = 0;
    int64_t next_attempt = 0;
  };
  std::vector<Recipient> recipients;
};

struct QueueView {
  int64_t now = 0;
  std::vector<status::ShapeTable> shape;
  std::vector<QueueMessageView> messages;  // bounded by the caller
  size_t total_messages = 0;
};

struct ActivityView {
  std::string query;
  std::vector<status::ActivityEntry> entries;
};

struct HealthView {
  int64_t now = 0;
  struct Certificate {
    std::string description;
    int64_t not_after = 0;  // unix seconds, 0 unknown
  };
  std::vector<Certificate> certificates;
  struct Listener {
    std::string name, address, tls;
  };
  std::vector<Listener> listeners;
  std::string status_address;
  struct Disk {
    std::string what, path;
    bool known = false;
    uint64_t total_bytes = 0, free_bytes = 0;
  };
  std::vector<Disk> disks;
  size_t queue_messages = 0;
  double queue_oldest_age = 0;
  // The last doctor run (server/doctor.h): 0 = none yet. Its dns-server and table-server
  // findings are the "reachable" rows.
  int64_t doctor_time = 0;
  double doctor_seconds = 0;
  bool doctor_running = false;
  std::vector<doctor::Finding> doctor;
};

std::string trafficJson(const TrafficView& v);
std::string trafficHtml(const TrafficView& v);
std::string queueJson(const QueueView& v);
std::string queueHtml(const QueueView& v, const std::string& csrf_token);
std::string activityJson(const ActivityView& v);
std::string activityHtml(const ActivityView& v);
std::string healthJson(const HealthView& v);
std::string healthHtml(const HealthView& v);

}  // namespace petrel::server::dashboard
