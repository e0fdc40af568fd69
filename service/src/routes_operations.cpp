// Operations: /healthz (the database answers, and which nodes the service writes to and reads from)
// and /metrics (Prometheus text).
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "routes.hpp"

namespace promoledger::service::detail {

using nlohmann::json;

// 200 {"status": "ok", "write_node": host:port} when the primary answers and is writable; with
// --read-db also "read_node", "read_node_standby" and "replica_lag_ms" (null: unknown), or
// "status": "degraded" with "read_node": null when the read node does not answer (payments still
// clear, so the instance stays in service). 503 when the primary does not answer, or when the server
// --db leads to is a standby (a single-host string after a switchover): no payment could be posted.
void Service::healthz(const Request&, Response& res) {
  ledger::ServerState write_node;
  try {
    auto lease = health_db_.lease();
    write_node = ledger::server_state(*lease);
  } catch (const std::exception&) {
    res.error = "database_unavailable";
    answer(res, 503, json{{"error", "database_unavailable"}, {"message", "the database does not answer"}});
    return;
  }
  if (write_node.standby) {
    res.error = "database_read_only";
    answer(res, 503,
           json{{"error", "database_read_only"},
                {"message", fmt::format("the write node {} is a standby: payments cannot be posted there (is --db a "
                                        "multi-host string with target_session_attrs=read-write?)",
                                        write_node.address)}});
    return;
  }
  json body{{"status", "ok"}, {"write_node", write_node.address}};
  if (has_read_node()) {
    try {
      auto lease = replica_health_db_->lease();
      const auto read_node = ledger::server_state(*lease);
      record_read_node(read_node);
      body["read_node"] = read_node.address;
      body["read_node_standby"] = read_node.standby;
      body["replica_lag_ms"] = read_node.replica_lag_ms ? json(*read_node.replica_lag_ms) : json(nullptr);
    } catch (const std::exception& e) {
      record_read_node(std::nullopt);
      spdlog::warn("healthz: the read node does not answer: {}", e.what());
      body["status"] = "degraded";
      body["read_node"] = nullptr;
    }
  }
  answer(res, 200, body);
}

void Service::metrics_text(const Request&, Response& res) {
  Metrics::Gauges g;
  g.poster = group_.stats();
  g.pool_in_use = posting_db_.in_use() + work_db_.in_use() + health_db_.in_use();
  g.pool_size = posting_db_.options().pool_size + work_db_.options().pool_size + health_db_.options().pool_size;
  g.reconnects_primary = posting_db_.reconnects() + work_db_.reconnects() + health_db_.reconnects();
  if (has_read_node()) {
    g.pool_in_use += replica_db_->in_use() + replica_health_db_->in_use();
    g.pool_size += replica_db_->options().pool_size + replica_health_db_->options().pool_size;
    Metrics::ReadNode read;
    read.reconnects = replica_db_->reconnects() + replica_health_db_->reconnects();
    read.standby = read_node_standby_.load(std::memory_order_relaxed);
    read.lag_ms = read_node_lag_ms_.load(std::memory_order_relaxed);
    g.read_node = read;
  }
  g.connections_open = connections_open.load();
  g.connections_max = options_.max_connections;
  g.connections_refused = connections_refused.load();
  g.tokens_active = tokens_.size();
  res.status = 200;
  res.set_content(metrics_.render(g), "text/plain; version=0.0.4");
}

}  // namespace promoledger::service::detail
