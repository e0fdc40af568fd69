#pragma once
// The service's counters in the Prometheus text format (version 0.0.4), for GET /metrics. There is
// no Prometheus client library in Debian 12; the format is a few lines of text, written here.
//
// Thread safety: every member may be called from any thread.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "promoledger/promo/group_commit.hpp"

namespace promoledger::service {

class Metrics {
 public:
  // One answered request; `route` is the route's template (/v1/payments/{payment_id}), not the path,
  // so the number of series stays bounded.
  void count_request(const std::string& method, const std::string& route, int status);
  // From the submission of a payment to the answer of its committed batch.
  void observe_posting(std::chrono::nanoseconds elapsed);
  // A payment's outcome that was not posted: a business refusal's reason or a failure class.
  void count_rejection(const std::string& reason);

  // The read node of --read-db, as last sampled (Service::watch_read_node, every read answer, /healthz).
  struct ReadNode {
    std::uint64_t reconnects = 0;  // of the read node's pools
    int standby = -1;              // 1 a standby, 0 a primary, -1 it did not answer the last sample
    std::int64_t lag_ms = -1;      // replica lag; -1 unknown (no answer, or nothing replayed yet)
  };

  struct Gauges {
    promo::GroupCommitPoster::Stats poster;
    std::size_t pool_in_use = 0;
    std::size_t pool_size = 0;
    // Sessions re-established after their connection broke: on the primary (posting, work, health).
    std::uint64_t reconnects_primary = 0;
    std::size_t connections_open = 0;
    std::size_t connections_max = 0;
    std::uint64_t connections_refused = 0;
    std::size_t tokens_active = 0;
    std::optional<ReadNode> read_node;  // with --read-db
  };
  std::string render(const Gauges& gauges) const;

  // Upper bounds of the posting latency buckets, in seconds.
  static constexpr std::array<double, 14> latency_buckets_s{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                                            0.1,    0.2,   0.5,   1,     2,    5,    10};

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::string, std::uint64_t> rejections_;
  std::array<std::uint64_t, latency_buckets_s.size()> latency_counts_{};  // not cumulative
  std::uint64_t latency_count_ = 0;
  double latency_sum_s_ = 0;
  // Series kept at most; a route template and a status are few, reasons are an enum: the limit only
  // guards against a bug turning a label into an unbounded value.
  static constexpr std::size_t series_max = 10'000;
};

}  // namespace promoledger::service
