#include "promoledger/service/metrics.hpp"

#include <fmt/format.h>

namespace promoledger::service {
namespace {

// A label value in the text format: backslash, double quote and newline escaped.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void Metrics::count_request(const std::string& method, const std::string& route, int status) {
  std::lock_guard lock(mutex_);
  auto key = std::make_tuple(method, route, status);
  if (requests_.size() >= series_max && requests_.find(key) == requests_.end()) {
    key = std::make_tuple(std::string("OTHER"), std::string("other"), status);
  }
  ++requests_[key];
}

void Metrics::observe_posting(std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < latency_buckets_s.size(); ++i) {
    if (seconds <= latency_buckets_s[i]) {
      ++latency_counts_[i];
      break;
    }
  }
  ++latency_count_;
  latency_sum_s_ += seconds;
}

void Metrics::count_rejection(const std::string& reason) {
  std::lock_guard lock(mutex_);
  if (rejections_.size() >= series_max && rejections_.find(reason) == rejections_.end()) {
    ++rejections_["other"];
    return;
  }
  ++rejections_[reason];
}

std::string Metrics::render(const Gauges& g) const {
  std::string out;
  const auto help = [&out](const char* name, const char* type, const char* text) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, text, name, type);
  };
  std::lock_guard lock(mutex_);
  help("promoledger_http_requests_total", "counter", "HTTP requests answered, by method, route template and status.");
  for (const auto& [key, n] : requests_) {
    out += fmt::format("promoledger_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n",
                       label(std::get<0>(key)), label(std::get<1>(key)), std::get<2>(key), n);
  }
  help("promoledger_posting_seconds", "histogram", "From a payment's submission to the answer after its batch's commit.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency_buckets_s.size(); ++i) {
    cumulative += latency_counts_[i];
    out += fmt::format("promoledger_posting_seconds_bucket{{le=\"{}\"}} {}\n", latency_buckets_s[i], cumulative);
  }
  out += fmt::format("promoledger_posting_seconds_bucket{{le=\"+Inf\"}} {}\n", latency_count_);
  out += fmt::format("promoledger_posting_seconds_sum {}\n", latency_sum_s_);
  out += fmt::format("promoledger_posting_seconds_count {}\n", latency_count_);
  help("promoledger_payment_rejections_total", "counter", "Payments not posted, by reason.");
  for (const auto& [reason, n] : rejections_) {
    out += fmt::format("promoledger_payment_rejections_total{{reason=\"{}\"}} {}\n", label(reason), n);
  }
  // Batch sizes: the poster keeps a log2 histogram ([k] holds sizes 2^k .. 2^(k+1)-1), exposed as a
  // Prometheus histogram whose bucket bounds are 2^(k+1)-1.
  help("promoledger_batch_size", "histogram", "Payments per committed batch.");
  cumulative = 0;
  const auto& hist = g.poster.batch_size_log2_histogram;
  for (std::size_t k = 0; k < hist.size(); ++k) {
    cumulative += hist[k];
    out += fmt::format("promoledger_batch_size_bucket{{le=\"{}\"}} {}\n", (std::uint64_t{2} << k) - 1, cumulative);
  }
  out += fmt::format("promoledger_batch_size_bucket{{le=\"+Inf\"}} {}\n", g.poster.batches);
  out += fmt::format("promoledger_batch_size_sum {}\n", g.poster.payments);
  out += fmt::format("promoledger_batch_size_count {}\n", g.poster.batches);
  const auto gauge = [&](const char* name, const char* type, const char* text, auto value) {
    help(name, type, text);
    out += fmt::format("{} {}\n", name, value);
  };
  gauge("promoledger_queue_depth", "gauge", "Payments waiting for a writer.", g.poster.queue_depth);
  gauge("promoledger_writers_busy", "gauge", "Writers posting a batch now.", g.poster.writers_busy);
  gauge("promoledger_batches_failed_total", "counter", "Batches that failed before commit (nothing stored).",
        g.poster.failed_batches);
  gauge("promoledger_batches_outcome_unknown_total", "counter", "Batches whose connection failed in flight.",
        g.poster.unknown_batches);
  gauge("promoledger_queue_full_total", "counter", "Payments refused because the queue was full.",
        g.poster.refused_queue_full);
  gauge("promoledger_db_pool_in_use", "gauge", "Database sessions leased now.", g.pool_in_use);
  gauge("promoledger_db_pool_size", "gauge", "Database sessions opened.", g.pool_size);
  help("promoledger_db_reconnects_total", "counter",
       "Database sessions re-established after their connection broke (a failover, a restart), by pool: primary "
       "(posting, work, health), read (--read-db).");
  out += fmt::format("promoledger_db_reconnects_total{{pool=\"primary\"}} {}\n", g.reconnects_primary);
  if (g.read_node) {
    out += fmt::format("promoledger_db_reconnects_total{{pool=\"read\"}} {}\n", g.read_node->reconnects);
    // Absent while unknown (Prometheus then has no sample, rather than a false 0).
    help("promoledger_replica_lag_seconds", "gauge",
         "How far the read node (--read-db) is behind the primary, as last sampled (every second): 0 on a primary or a "
         "caught-up standby.");
    if (g.read_node->lag_ms >= 0) {
      out += fmt::format("promoledger_replica_lag_seconds {:.3f}\n", static_cast<double>(g.read_node->lag_ms) / 1000.0);
    }
    help("promoledger_read_node_standby", "gauge",
         "1 when the read node is a standby, 0 when it is a primary (reads fell back, or it was promoted), -1 when it did "
         "not answer.");
    out += fmt::format("promoledger_read_node_standby {}\n", g.read_node->standby);
  }
  gauge("promoledger_http_connections_open", "gauge", "HTTP connections being served.", g.connections_open);
  gauge("promoledger_http_connections_max", "gauge", "HTTP connections served at once at most.", g.connections_max);
  gauge("promoledger_http_connections_refused_total", "counter", "Connections answered 503 because all were in use.",
        g.connections_refused);
  gauge("promoledger_api_tokens_active", "gauge", "Active API tokens loaded.", g.tokens_active);
  return out;
}

}  // namespace promoledger::service
